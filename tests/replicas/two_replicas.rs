//! Two `saring serve` processes on one database behave as one service: what one accepts the
//! other shows; a captcha token is good for one comment across both, and a token burnt by a
//! wrong answer on one is refused by the other; two moderators deciding the same comment on the
//! two replicas get one success and one `409`; thread closes and policy reloads reach both.

use std::time::Instant;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::replica::*;

fn submission(token: &str, answer: &str, body: &str) -> Value {
    json!({
        "author_name": "Pembaca", "author_email": format!("{}@contoh.id", uuid_like()),
        "body": body, "captcha_token": token, "captcha_answer": answer,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_comments_captchas_and_decisions() {
    let _gate = PG_GATE.read().await;
    let Some(db) = fresh_database("two replicas").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary folder");
    let a = Replica::start(&db, &dir.path().join("a"), None);
    let b = Replica::start(&db, &dir.path().join("b"), None);
    let (a, b) = (&a.app, &b.app);
    let thread = "berita-replika";

    // A comment through one replica is in the other's thread, and a held one in its queue.
    for (from, to) in [(a, b), (b, a)] {
        let id = from.comment_ok(thread, HAM, "published").await;
        let posted = Instant::now();
        eventually("the other replica shows the comment", || async {
            all_thread_ids(to, thread).await.contains(&id).then_some(())
        })
        .await;
        eprintln!(
            "published comment visible on the other replica after {:?}",
            posted.elapsed()
        );
        let held = from.comment_ok(thread, HELD, "pending").await;
        let posted = Instant::now();
        eventually("the other replica queues the held comment", || async {
            all_queue_ids(to, "pending")
                .await
                .contains(&held)
                .then_some(())
        })
        .await;
        eprintln!(
            "held comment in the other replica's queue after {:?}",
            posted.elapsed()
        );
    }

    // One token, posted to both replicas at the same moment: one comment, one `409`.
    for round in 0..5 {
        let (token, answer) = a.challenge(thread).await;
        let body = submission(
            &token,
            &answer.to_string(),
            &format!("{HAM} Putaran {round}."),
        );
        let (ra, rb) = tokio::join!(a.post_json(thread, &body), b.post_json(thread, &body));
        let mut statuses = [ra.0, rb.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::CONFLICT],
            "round {round}: {} / {}",
            ra.1,
            rb.1
        );
        let refused = if ra.0 == StatusCode::CONFLICT {
            &ra.1
        } else {
            &rb.1
        };
        assert_eq!(refused["error"]["code"], "captcha_used", "{refused}");
    }

    // A token burnt by a wrong answer on one replica is refused with the right answer on the
    // other, which never saw the wrong one.
    for (burner, other) in [(a, b), (b, a)] {
        let (token, answer) = burner.challenge(thread).await;
        let (status, v) = burner
            .post_json(thread, &submission(&token, &(answer + 1).to_string(), HAM))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(v["error"]["code"], "captcha_wrong", "{v}");
        let (status, v) = other
            .post_json(thread, &submission(&token, &answer.to_string(), HAM))
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "the burnt token on the other replica: {v}"
        );
        assert_eq!(v["error"]["code"], "captcha_invalid", "{v}");
        // A token nobody burnt still works on the other replica.
        let (token, answer) = burner.challenge(thread).await;
        let (status, v) = other
            .post_json(thread, &submission(&token, &answer.to_string(), HAM))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
    }

    // Two moderators, one on each replica, decide the same version of a comment at once.
    for round in 0..4 {
        let held = a.comment_ok(thread, HELD, "pending").await;
        let version = eventually("the comment reaches the other replica", || async {
            let (s, v) = b
                .mod_get(BUDI, &format!("/api/v1/mod/comments/{held}"))
                .await;
            (s == StatusCode::OK).then(|| v["version"].as_u64().expect("version"))
        })
        .await;
        assert_eq!(version, a.version(&held).await);
        let ((sa, va), (sb, vb)) = tokio::join!(
            a.decide(AYU, &held, "approve", version),
            b.decide(BUDI, &held, "reject", version)
        );
        let mut statuses = [sa, sb];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "round {round}: {va} / {vb}"
        );
        let (winner, loser) = if sa == StatusCode::OK {
            (&va, &vb)
        } else {
            (&vb, &va)
        };
        assert_eq!(loser["error"]["code"], "stale_version", "{loser}");
        // Both replicas end with the winner's decision.
        let want = winner["status"].as_str().expect("status").to_string();
        for app in [a, b] {
            eventually("both replicas show the winning decision", || async {
                let (_, v) = app
                    .mod_get(AYU, &format!("/api/v1/mod/comments/{held}"))
                    .await;
                (v["status"] == want.as_str()).then_some(())
            })
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_closes_and_policy_reloads_reach_every_replica() {
    let _gate = PG_GATE.read().await;
    let Some(db) = fresh_database("closes and reloads on two replicas").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temporary folder");
    // Both replicas watch the same policy folder, as docs/store.md tells operators to set up.
    let policies = policy_copy();
    let ra = Replica::start(&db, &dir.path().join("a"), Some(policies.path()));
    let rb = Replica::start(&db, &dir.path().join("b"), Some(policies.path()));
    let (a, b) = (&ra.app, &rb.app);
    let thread = "berita-tutup";
    a.comment_ok(thread, HAM, "published").await;

    // Closed on one replica: the other shows it closed and refuses comments; reopened there,
    // the first takes comments again.
    let (status, v) = a
        .mod_post(
            AYU,
            &format!("/api/v1/mod/threads/{thread}/close"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    eventually("the other replica shows the thread closed", || async {
        let (_, v) = b.get(&format!("/api/v1/threads/{thread}/comments")).await;
        (v["closed"] == true).then_some(())
    })
    .await;
    let (status, v) = b.comment(thread, "Sari", "sari@contoh.id", HAM, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "thread_closed", "{v}");
    let (status, v) = b
        .mod_post(
            BUDI,
            &format!("/api/v1/mod/threads/{thread}/reopen"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    eventually("the first replica shows the thread open", || async {
        let (_, v) = a.get(&format!("/api/v1/threads/{thread}/comments")).await;
        (v["closed"] == false).then_some(())
    })
    .await;
    a.comment_ok(thread, HAM, "published").await;

    // A policy edit reaches both replicas.
    let (_, pa) = a.mod_get(AYU, "/api/v1/mod/policy").await;
    let (_, pb) = b.mod_get(AYU, "/api/v1/mod/policy").await;
    let old = pa["version"].as_str().expect("version").to_string();
    assert_eq!(pb["version"], old.as_str(), "both start on the same files");
    let file = policies.path().join("default.toml");
    let mut text = std::fs::read_to_string(&file).expect("policy file");
    text.push_str("\n# edited by the replica test\n");
    std::fs::write(&file, text).expect("write the policy");
    let mut new_versions = Vec::new();
    for app in [a, b] {
        let v = eventually("each replica runs the edited policy", || async {
            let (_, p) = app.mod_get(AYU, "/api/v1/mod/policy").await;
            let v = p["version"].as_str().unwrap_or_default().to_string();
            (v != old).then_some(v)
        })
        .await;
        new_versions.push(v);
    }
    assert_eq!(
        new_versions[0], new_versions[1],
        "both run the same new version"
    );
    drop(ra);
    drop(rb);
}
