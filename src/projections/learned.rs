//! What the site's moderators taught the filter: folds their `spam`, `not_spam`, `approve` and
//! `reject` decisions into a [`LearnedModel`] that `fn screen` reads beside the shipped policy.
//!
//! Only decisions made by a moderator teach: the filter's own verdicts (`Actor::System`), reader
//! reports and imported statuses never reach [`fold`]. The comment's text and author name come
//! from its projection record; the event's global position is the decision's sequence number, so
//! a later decision on the same comment replaces an earlier one and replaying the log rebuilds
//! the same model. The author is keyed by a digest of the email, never the email itself.

use crate::domain::{Actor, DomainEvent};
use crate::policy::learned::{Decision, LearnedModel, Taught};

use super::CommentRecord;

/// The decision a moderator's event carries, or `None` for every other event.
pub fn moderator_decision(event: &DomainEvent) -> Option<Decision> {
    let (by, decision) = match event {
        DomainEvent::CommentMarkedSpam { by, .. } => (by, Decision::Spam),
        DomainEvent::CommentMarkedNotSpam { by, .. } => (by, Decision::NotSpam),
        DomainEvent::CommentApproved { by, .. } => (by, Decision::Approve),
        DomainEvent::CommentRejected { by, .. } => (by, Decision::Reject),
        _ => return None,
    };
    matches!(by, Actor::Moderator(_)).then_some(decision)
}

/// A stable digest of the author's email: the model needs only equality of authors, and a
/// snapshot should not carry the address.
fn author_key(email: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(email.as_bytes());
    d[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Folds one moderator decision on `rec` (the comment as the projections know it) at global
/// `position` into `model`.
pub fn fold(model: &mut LearnedModel, rec: &CommentRecord, position: u64, decision: Decision) {
    let body = super::render::plain_text(&rec.body_html);
    let id = rec.id.to_string();
    let author = author_key(&rec.author_email);
    model.apply(&Taught {
        seq: position,
        comment_id: &id,
        author_key: &author,
        body: &body,
        author_name: &rec.author_name,
        decision,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::comment_stream;
    use crate::domain::events::{ClientFacts, Submission};
    use crate::i18n::Lang;
    use crate::projections::{EventPosition, Projections};
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;
    use uuid::Uuid;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid")
    }

    fn submitted(n: u128) -> DomainEvent {
        DomainEvent::CommentSubmitted(Submission {
            comment_id: Uuid::from_u128(n),
            thread: "berita".into(),
            parent_id: None,
            author_name: format!("Pemenang {n}"),
            author_email: format!("p{n}@contoh.id"),
            author_url: None,
            body: format!("mantap main di 𝐙𝐎𝐑𝐕𝐄𝐗𝟗{n} langsung wd {n} juta"),
            client: ClientFacts {
                ip: "198.51.100.7".into(),
                user_agent: None,
            },
            captcha_solve_ms: 3000,
            pow: None,
            known_reader: None,
            lang: Lang::Id,
            submitted_at: at(),
            erased: false,
        })
    }

    fn decided(spam: bool, by: Actor) -> DomainEvent {
        let reason = String::new();
        if spam {
            DomainEvent::CommentMarkedSpam {
                by,
                reason,
                at: at(),
            }
        } else {
            DomainEvent::CommentMarkedNotSpam {
                by,
                reason,
                at: at(),
            }
        }
    }

    /// Applies `(comment, event)` pairs in order at positions 1, 2, …
    fn replay(events: &[(u128, DomainEvent)]) -> Projections {
        let mut p = Projections::default();
        for (i, (n, e)) in events.iter().enumerate() {
            let stream = comment_stream(Uuid::from_u128(*n));
            p.apply(
                EventPosition {
                    stream: &stream,
                    revision: i as u64,
                    position: i as u64 + 1,
                },
                e,
            );
        }
        p
    }

    fn moderator() -> Actor {
        Actor::Moderator("ayu".into())
    }

    #[test]
    fn only_moderator_decisions_teach_and_a_snapshot_carries_them() {
        let mut events: Vec<(u128, DomainEvent)> = (1..=5).map(|n| (n, submitted(n))).collect();
        // The filter's own spam verdict teaches nothing.
        events.push((1, decided(true, Actor::System)));
        assert!(replay(&events).learned.is_empty());
        for n in 1..=5 {
            events.push((n, decided(true, moderator())));
        }
        let p = replay(&events);
        assert_eq!(p.learned.len(), 5);
        let probe = "mantap main di 𝐙𝐎𝐑𝐕𝐄𝐗𝟗7 langsung wd 7 juta";
        assert!(p.learned.score(probe, "Pemenang 7").0 > 1.0);
        // The snapshot holds no email, and loading it gives the same model.
        let json = serde_json::to_string(&p).expect("serialises");
        let model_json = serde_json::to_string(&p.learned).expect("serialises");
        assert!(!model_json.contains("contoh.id"), "{}", &model_json[..200]);
        let back: Projections = serde_json::from_str(&json).expect("loads");
        assert_eq!(back.learned, p.learned);
        assert_eq!(replay(&events).learned, p.learned);
        // Undoing the decisions leaves nothing that raises the campaign.
        for n in 1..=5 {
            events.push((n, decided(false, moderator())));
        }
        assert!(replay(&events).learned.score(probe, "Pemenang 7").0 <= 0.0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn the_same_decisions_in_another_order_give_the_same_model(
            decisions in prop::collection::vec((1u128..=4, any::<bool>()), 1..12),
            seed in any::<u64>(),
        ) {
            let subs: Vec<(u128, DomainEvent)> = (1..=4).map(|n| (n, submitted(n))).collect();
            let ds: Vec<(u128, DomainEvent)> =
                decisions.iter().map(|(n, s)| (*n, decided(*s, moderator()))).collect();
            // Keep only the last decision per comment so both orders hold the same final ones;
            // the fold resolves conflicts by position, which a reordered log changes.
            let mut last: Vec<(u128, DomainEvent)> = Vec::new();
            for (n, e) in ds.into_iter().rev() {
                if !last.iter().any(|(m, _)| *m == n) {
                    last.push((n, e));
                }
            }
            let mut shuffled = last.clone();
            let mut s = seed;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            let a = replay(&[subs.clone(), last].concat()).learned;
            let b = replay(&[subs, shuffled].concat()).learned;
            // Sequence numbers differ with the order, so compare what the models say.
            for n in 1..=6u128 {
                let body = format!("mantap main di 𝐙𝐎𝐑𝐕𝐄𝐗𝟗{n} langsung wd {n} juta");
                let (x, y) = (a.score(&body, "").0, b.score(&body, "").0);
                prop_assert!((x - y).abs() < 1e-9, "{} vs {}", x, y);
            }
            prop_assert_eq!(a.len(), b.len());
        }
    }
}
