//! The labelled Indonesian and English cases in tests/data/policy-cases.jsonl.

use saring::policy::cli::{Label, read_cases};
use saring::policy::{History, Outcome, ScreenInput};

use crate::{default_policy, root};

#[test]
fn every_labelled_case_gets_the_expected_outcome() {
    let p = default_policy();
    let cases = read_cases(&root().join("tests/data/policy-cases.jsonl")).expect("cases load");
    assert!(cases.len() >= 60, "the case file has {} cases", cases.len());
    let mut wrong = Vec::new();
    for c in &cases {
        let v = p.screen(&c.input());
        let ok = match c.label {
            Some(Label::Ham) => v.outcome == Outcome::Accept,
            Some(Label::Spam) => matches!(v.outcome, Outcome::Hold | Outcome::Spam),
            // Abuse is held for a moderator, never sent to spam or rejected.
            Some(Label::Hold) => v.outcome == Outcome::Hold,
            None => true,
        };
        if !ok {
            let ids: Vec<&str> = v.rules.iter().map(|r| r.id.as_str()).collect();
            wrong.push(format!(
                "line {}: {:?} -> {:?} {} {:?}: {}",
                c.line, c.label, v.outcome, v.score, ids, c.body
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn styled_brand_promotion_is_spam_and_explained_on_the_original_text() {
    let body = "Main di 𝐆𝐀𝐑𝐔𝐃𝐀𝟖𝟖 bikin hari makin berwarna!";
    let v = default_policy().screen(&ScreenInput {
        body,
        author_name: "Rina",
        ..Default::default()
    });
    assert_eq!(v.outcome, Outcome::Spam);
    let brand = v
        .rules
        .iter()
        .find(|r| r.id == "GAMBLING_BRAND")
        .expect("brand rule");
    assert!(brand.obfuscated);
    let (s, e) = brand.span.expect("span");
    assert_eq!(&body[s..e], "𝐆𝐀𝐑𝐔𝐃𝐀𝟖𝟖");
    assert!(!brand.description.id.is_empty() && !brand.description.en.is_empty());
    assert_eq!(v.policy_version, default_policy().version());
}

#[test]
fn a_first_comment_is_never_held_for_that_alone_but_with_a_link_it_is() {
    let p = default_policy();
    let first = Some(History::default());
    let plain = p.screen(&ScreenInput {
        body: "Setuju, jalannya memang rusak parah.",
        history: first,
        ..Default::default()
    });
    assert!(plain.rules.iter().any(|r| r.id == "FIRST_COMMENT"));
    assert_eq!(plain.outcome, Outcome::Accept);
    let link = p.screen(&ScreenInput {
        body: "Info lengkap di https://warung-kopi.example/promo",
        history: first,
        ..Default::default()
    });
    assert_eq!(link.outcome, Outcome::Hold);
    // A regular reader with three approved comments may post the same link.
    let trusted = Some(History {
        author_approved: 3,
        ..Default::default()
    });
    let t = p.screen(&ScreenInput {
        body: "Info lengkap di https://warung-kopi.example/promo",
        history: trusted,
        ..Default::default()
    });
    assert_eq!(t.outcome, Outcome::Accept);
}

#[test]
fn spam_waves_and_known_spammers_are_caught_by_history() {
    let p = default_policy();
    let wave = Some(History {
        author_approved: 0,
        same_body_threads: 3,
        ..Default::default()
    });
    let v = p.screen(&ScreenInput {
        body: "Mantap infonya min",
        history: wave,
        ..Default::default()
    });
    assert!(v.outcome >= Outcome::Hold, "{v:?}");
    let spammer = Some(History {
        author_spam: 2,
        ip_spam: 2,
        ..Default::default()
    });
    let v = p.screen(&ScreenInput {
        body: "Mantap infonya min",
        history: spammer,
        ..Default::default()
    });
    assert!(v.outcome >= Outcome::Hold, "{v:?}");
}

#[test]
fn honeypot_is_spam_whatever_the_score() {
    let v = default_policy().screen(&ScreenInput {
        body: "Artikel bagus",
        honeypot: Some("x"),
        history: Some(History {
            author_approved: 50,
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(v.outcome, Outcome::Spam);
}

#[test]
fn example_policies_load_and_differ_from_the_default() {
    let strict = saring::policy::Policy::load(&root().join("policies/examples/strict-news.toml"))
        .expect("strict loads");
    let relaxed = saring::policy::Policy::load(&root().join("policies/examples/relaxed-blog.toml"))
        .expect("relaxed loads");
    let d = default_policy();
    assert!(strict.thresholds().hold < d.thresholds().hold);
    assert!(relaxed.thresholds().hold > d.thresholds().hold);
    assert_ne!(strict.version(), d.version());
    // A first-timer's link to a reference site: fine by default, held on the strict site.
    let input = ScreenInput {
        body: "Lihat https://www.kompas.com/read/1",
        history: Some(History::default()),
        ..Default::default()
    };
    assert_eq!(d.screen(&input).outcome, Outcome::Accept);
    assert_eq!(strict.screen(&input).outcome, Outcome::Hold);
    // A blog's own domain is not a link at all.
    let own = ScreenInput {
        body: "baca juga https://blog.example/post/2",
        ..Default::default()
    };
    assert_eq!(relaxed.screen(&own).outcome, Outcome::Accept);
}

#[test]
fn submission_facts_add_evidence() {
    let p = default_policy();
    let v = p.screen(&ScreenInput {
        body: "Mantap",
        author_email: "x@mailinator.com",
        user_agent: Some("python-requests/2.31"),
        solve_time_ms: Some(300),
        ..Default::default()
    });
    let ids: Vec<&str> = v.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["DISPOSABLE_EMAIL", "SCRIPT_USER_AGENT", "SOLVED_TOO_FAST"]
    );
    // 2 + 3 + 3: held for a person, not spam on these facts alone.
    assert_eq!(v.outcome, Outcome::Hold, "{v:?}");
    let browser = p.screen(&ScreenInput {
        body: "Mantap",
        user_agent: Some("Mozilla/5.0 (Linux; Android 14)"),
        ..Default::default()
    });
    assert!(browser.rules.is_empty());
}

#[test]
fn a_disguised_brand_is_explained_on_the_original_text() {
    let body = "Parah! K𝙀𝐋𝘼𝐏𝘼Т𝐎Т𝙊 bikin nagih, wajib coba";
    let v = default_policy().screen(&ScreenInput {
        body,
        author_name: "Rina",
        ..Default::default()
    });
    assert!(v.outcome >= Outcome::Hold, "{v:?}");
    let d = v
        .rules
        .iter()
        .find(|r| r.id == "DISGUISED_WORD")
        .expect("disguised word rule");
    let (s, e) = d.span.expect("span");
    assert_eq!(&body[s..e], "K𝙀𝐋𝘼𝐏𝘼Т𝐎Т𝙊");
    assert!(!d.description.id.is_empty() && !d.description.en.is_empty());
    assert!(v.rules.iter().any(|r| r.id == "DISGUISED_NAME_PROMOTED"));
}

#[test]
fn a_regular_readers_record_is_trust_only_with_their_token() {
    let p = default_policy();
    let link = "Info lengkap di https://warung-kopi.example/promo";
    let screen = |history: History| {
        let v = p.screen(&ScreenInput {
            body: link,
            history: Some(history),
            ..Default::default()
        });
        let ids: Vec<String> = v.rules.iter().map(|r| r.id.clone()).collect();
        (v.outcome, ids)
    };
    let record = History {
        author_approved: 3,
        ..Default::default()
    };
    let has = |ids: &[String], id: &str| ids.iter().any(|r| r == id);
    for known in [Some(true), None] {
        let (outcome, ids) = screen(History {
            known_reader: known,
            ..record
        });
        assert_eq!(outcome, Outcome::Accept, "{known:?} {ids:?}");
        assert!(has(&ids, "TRUSTED_AUTHOR") && !has(&ids, "TRUSTED_EMAIL_UNVERIFIED"));
    }
    // The same record without the token: evidence, and the link is held as a stranger's is.
    let (outcome, ids) = screen(History {
        known_reader: Some(false),
        ..record
    });
    assert_eq!(outcome, Outcome::Hold, "{ids:?}");
    assert!(has(&ids, "TRUSTED_EMAIL_UNVERIFIED") && !has(&ids, "TRUSTED_AUTHOR"));
    // "Three approved and no spam": spam by the email or from the address group is no trust.
    for spoiled in [
        History {
            author_spam: 1,
            known_reader: Some(true),
            ..record
        },
        History {
            ip_spam: 1,
            known_reader: Some(true),
            ..record
        },
    ] {
        let (_, ids) = screen(spoiled);
        assert!(!has(&ids, "TRUSTED_AUTHOR"), "{spoiled:?} {ids:?}");
    }
}

/// Readers' given names, Indonesian and English: none of them is evidence of anything.
const NAMES: [&str; 24] = [
    "Sari",
    "Nia",
    "Evi",
    "Kartika",
    "Lestari",
    "Slamet",
    "Dimas",
    "Lina",
    "Krisna",
    "Umar",
    "Budi",
    "Siti",
    "Agus",
    "Dewi",
    "Putri",
    "Wahyu",
    "Sari Dewi",
    "Rina Wijaya",
    "David",
    "Sarah",
    "James",
    "Emma",
    "Robert",
    "Sandra",
];

#[test]
fn a_readers_name_does_not_move_the_verdict_on_an_ordinary_comment() {
    // The shipped model reads a name for its form (digits, styled letters), not for which name
    // it is: trained with its words, it scored "Sari" with a thank-you note at p = 0.665.
    let p = default_policy();
    let bodies = [
        "Terima kasih atas beritanya, sangat membantu.",
        "Semoga pemerintah cepat tanggap soal banjir ini.",
        "Thanks for the clear report.",
    ];
    for body in bodies {
        let screen = |author_name| {
            p.screen(&ScreenInput {
                body,
                author_name,
                ..Default::default()
            })
        };
        let (one, two) = (screen("Pembaca").score, screen("Pembaca Setia").score);
        for name in NAMES {
            let v = screen(name);
            let ids: Vec<&str> = v.rules.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(v.outcome, Outcome::Accept, "{name}: {body} -> {ids:?}");
            let same = if name.contains(' ') { two } else { one };
            assert!(
                (v.score - same).abs() < 1e-9,
                "{name}: {body} scores {} against {same} for another name: {ids:?}",
                v.score
            );
        }
    }
}

#[test]
fn a_brand_in_the_name_still_counts() {
    let p = default_policy();
    let v = p.screen(&ScreenInput {
        body: "mantap bang, makasih",
        author_name: "𝐊𝐔𝐃𝐀𝐋𝐈𝐑𝟕𝟕",
        ..Default::default()
    });
    assert_eq!(v.outcome, Outcome::Spam, "{:?}", v.rules);
    assert!(v.rules.iter().any(|r| r.id == "GAMBLING_BRAND"));
}
