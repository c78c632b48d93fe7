//! What screening concluded about a comment, as the product records it: the [`Verdict`] (its
//! [`Outcome`], score and matched rules) and the author's [`History`] it was given.
//!
//! These are facts of the product, stored in events and read by projections, so they live in
//! the domain; the spam engine (`policy`) produces them and re-exports them for its
//! callers. Their serde shapes are those of stored events: changing one breaks old logs.

use serde::{Deserialize, Serialize};

/// A rule's description in Indonesian and English, shown to moderators next to a verdict.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// Bahasa Indonesia.
    pub id: String,
    /// English.
    pub en: String,
}

impl Description {
    /// Whether both languages are empty: a rule hit stored without its description, which
    /// is then looked up by the verdict's policy version ([`Verdict::fill_descriptions`]).
    pub fn is_empty(&self) -> bool {
        self.id.is_empty() && self.en.is_empty()
    }
}

/// What happens to a comment.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Published at once.
    Accept,
    /// Held for a moderator.
    Hold,
    /// Put in the spam queue.
    Spam,
    /// Refused outright.
    Reject,
}

/// One matched rule in a verdict.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RuleHit {
    /// The rule id.
    pub id: String,
    /// The score it added (including any obfuscation score).
    pub score: f64,
    /// The field it matched (`body`, `author_name`, ...).
    pub field: String,
    /// Byte span in the ORIGINAL field text, when the rule matched text.
    pub span: Option<(usize, usize)>,
    /// The matched original text (cut to 120 bytes), or a short note such as `3 links`.
    pub matched: Option<String>,
    /// Whether it matched only after normalisation (disguised text).
    pub obfuscated: bool,
    /// What the rule means. Stored events (schema 3) leave it out when it is the policy
    /// version's own description of the rule, which its `PolicyActivated` event carries once.
    #[serde(default, skip_serializing_if = "Description::is_empty")]
    pub description: Description,
    /// For a model rule: the features that moved its score most, strongest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// One feature behind a model rule's verdict.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    /// The feature: `word:gacor`, `char:<ga`, `styled:garuda88`, `shape:a9:2`, `pair:main di` ...
    pub feature: String,
    /// The field it came from (`body` or `author_name`).
    pub field: String,
    /// Byte span in the ORIGINAL field text, when the feature is about a piece of text.
    pub span: Option<(usize, usize)>,
    /// The original text at the span (cut to 120 bytes).
    pub matched: Option<String>,
    /// What it added to the model's log-odds (negative: it spoke for not spam).
    pub weight: f64,
}

/// The result of screening one submission.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    /// What to do with the comment.
    pub outcome: Outcome,
    /// The total score.
    pub score: f64,
    /// Every rule that matched and counts (sub-rules are left out).
    pub rules: Vec<RuleHit>,
    /// The version (hash) of the policy that decided.
    pub policy_version: String,
}

impl Verdict {
    /// Turns an accepted verdict into a hold for a reason of the service's own (a
    /// pre-moderated thread, an undecided spam wave, a flood): the hit scores nothing, so the
    /// policy's figures stay what the policy said, and it tells the moderator why the comment
    /// waits. `field` is what the reason is about (`thread`, `body`, `client`); `matched` a
    /// short note such as the wave's id.
    pub fn hold_for(
        &mut self,
        rule: &str,
        field: &str,
        matched: Option<String>,
        description: Description,
    ) {
        self.outcome = Outcome::Hold;
        self.rules.push(RuleHit {
            id: rule.into(),
            score: 0.0,
            field: field.into(),
            span: None,
            matched,
            obfuscated: false,
            evidence: Vec::new(),
            description,
        });
    }

    /// Clears each hit's description where it is the one the deciding policy (`policy`'s
    /// lookup by rule id, `Policy::description_of`) holds for that rule, so a stored verdict
    /// does not repeat what its policy version's activation says once. Hits of rules the
    /// policy does not know (added by the service) keep theirs.
    pub fn strip_descriptions<'a>(&mut self, policy: impl Fn(&str) -> Option<&'a Description>) {
        for hit in &mut self.rules {
            if policy(&hit.id) == Some(&hit.description) {
                hit.description = Description::default();
            }
        }
    }

    /// Fills each hit stored without its description from `descriptions` (a lookup by rule
    /// id in the verdict's policy version); returns whether every hit has one now.
    pub fn fill_descriptions<'a>(
        &mut self,
        descriptions: impl Fn(&str) -> Option<&'a Description>,
    ) -> bool {
        let mut complete = true;
        for hit in &mut self.rules {
            if hit.description.is_empty() {
                match descriptions(&hit.id) {
                    Some(d) => hit.description = d.clone(),
                    None => complete = false,
                }
            }
        }
        complete
    }

    /// Whether some hit was stored without its description.
    pub fn lacks_descriptions(&self) -> bool {
        self.rules.iter().any(|h| h.description.is_empty())
    }
}

/// What the author's past shows, computed by the caller from projections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Approved comments by this email (or address).
    pub author_approved: u32,
    /// Comments by this email marked spam.
    pub author_spam: u32,
    /// Comments from this client address marked spam.
    pub ip_spam: u32,
    /// Comments with this author URL marked spam.
    pub url_spam: u32,
    /// Earlier comments by this author with the same fingerprint (within the window).
    pub same_body_same_author: u32,
    /// Distinct other threads that got the same fingerprint within the window.
    pub same_body_threads: u32,
    /// Whether the reader showed a valid known-reader token for this email
    /// ([`crate::known_reader`]): `Some(false)` makes the email's record evidence rather than
    /// trust. `None` (not known, as in `policy test` or events written before tokens existed)
    /// leaves the record alone to decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_reader: Option<bool>,
}

impl History {
    /// Whether the email's record shows a regular reader: `min` approved comments and none marked
    /// spam (before the token is asked about).
    pub fn record_trusted(&self, min: u32) -> bool {
        self.author_approved >= min && self.author_spam == 0
    }

    /// Trust that cannot be borrowed by typing someone's email: the record, no spam from the
    /// reader's address group, and the known-reader token unless it is unknown.
    pub fn trusted(&self, min: u32) -> bool {
        self.record_trusted(min) && self.ip_spam == 0 && self.known_reader != Some(false)
    }
}
