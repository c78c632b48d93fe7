//! The service's own hold rules: the reasons it holds a comment the policy would publish (a
//! pre-moderated thread, an undecided spam wave, a flood), with the words a moderator reads
//! for each. Like a policy rule's, a hold rule's description is stored with the verdict (the
//! reason as it was given at the time), so its words are a fact of the event rather than a
//! message rendered per request; they are gathered here, one table for the four rules no
//! policy file writes, so a translator finds them in one place beside `http::messages`.

use crate::policy::{Description, Verdict};

/// A reason of the service's own to hold a comment, and how the moderator is told.
#[derive(Debug)]
pub struct HoldRule {
    /// The pseudo-rule's id in the verdict (shown with its description like a matched rule).
    pub id: &'static str,
    /// What the reason is about: `thread`, `body` or `client`.
    pub field: &'static str,
    /// The description in Indonesian.
    pub in_id: &'static str,
    /// The description in English.
    pub in_en: &'static str,
}

impl HoldRule {
    /// Turns an accepted verdict into a hold for this rule ([`Verdict::hold_for`]); `matched`
    /// is a short note such as the wave's id.
    pub fn hold(&self, verdict: &mut Verdict, matched: Option<String>) {
        verdict.hold_for(self.id, self.field, matched, self.description());
    }

    /// Both languages' words, as a verdict stores them.
    pub fn description(&self) -> Description {
        Description {
            id: self.in_id.into(),
            en: self.in_en.into(),
        }
    }
}

/// A moderator pre-moderates the comment's thread.
pub const THREAD_PREMODERATED: HoldRule = HoldRule {
    id: "THREAD_PREMODERATED",
    field: "thread",
    in_id: "Moderator menahan setiap komentar baru di utas ini untuk ditinjau",
    in_en: "A moderator holds every new comment of this thread for review",
};

/// Hold mode held a comment of an open, undecided spam wave.
pub const WAVE_HELD: HoldRule = HoldRule {
    id: "WAVE_HELD",
    field: "body",
    in_id: "Komentar ini sebentuk dengan gelombang spam yang belum diputuskan (teks, tautan \
            atau merek yang sama di banyak utas); ditahan sampai moderator memutuskan \
            gelombangnya",
    in_en: "This comment has the shape of a spam wave not yet decided (the same text, link or \
            brand across many threads); held until a moderator decides the wave",
};

/// The site-wide comment ceiling was reached (a likely flood).
pub const GLOBAL_CEILING: HoldRule = HoldRule {
    id: "GLOBAL_CEILING",
    field: "client",
    in_id: "Batas komentar seluruh situs tercapai (kemungkinan serbuan); komentar dari \
            pembaca baru ditahan untuk moderator",
    in_en: "The site-wide comment limit was reached (a likely flood); comments from new \
            readers are held for a moderator",
};

/// A rate-limit key map was full (a flood from more clients than the limiter remembers).
pub const LIMIT_KEYS_FULL: HoldRule = HoldRule {
    id: "LIMIT_KEYS_FULL",
    field: "client",
    in_id: "Tabel batas komentar penuh (serbuan dari sangat banyak alamat); komentar dari \
            pembaca baru ditahan untuk moderator",
    in_en: "A rate-limit table is full (a flood from very many addresses); comments from new \
            readers are held for a moderator",
};

/// Every hold rule, for the test that checks their words.
pub const ALL: [&HoldRule; 4] = [
    &THREAD_PREMODERATED,
    &WAVE_HELD,
    &GLOBAL_CEILING,
    &LIMIT_KEYS_FULL,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Outcome;

    #[test]
    fn every_hold_rule_is_described_in_both_languages_and_translated() {
        for rule in ALL {
            assert!(
                !rule.in_id.is_empty() && !rule.in_en.is_empty(),
                "{}",
                rule.id
            );
            assert_ne!(rule.in_id, rule.in_en, "{} is not translated", rule.id);
            // The ids name the rule in the verdict, the moderator view and the audit: one each.
            assert_eq!(
                ALL.iter().filter(|r| r.id == rule.id).count(),
                1,
                "{}",
                rule.id
            );
        }
    }

    #[test]
    fn a_hold_rule_holds_the_verdict_with_its_words_and_scores_nothing() {
        let mut verdict = Verdict {
            outcome: Outcome::Accept,
            score: 1.5,
            rules: vec![],
            policy_version: "v".into(),
        };
        WAVE_HELD.hold(&mut verdict, Some("wave 1".into()));
        assert_eq!(verdict.outcome, Outcome::Hold);
        assert_eq!(verdict.score, 1.5);
        let hit = &verdict.rules[0];
        assert_eq!(
            (hit.id.as_str(), hit.field.as_str(), hit.score),
            ("WAVE_HELD", "body", 0.0)
        );
        assert_eq!(hit.description.en, WAVE_HELD.in_en);
        assert_eq!(hit.matched.as_deref(), Some("wave 1"));
    }
}
