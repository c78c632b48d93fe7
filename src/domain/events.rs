//! The facts of a comment's and a thread's life, as stored in the event log.
//!
//! Events are past tense, versioned by the store envelope's schema version (read and upcast by
//! [`super::codec`], the only way in and out of the store), and serialised with an internal
//! `type` tag that equals the envelope's event type. Decisions (filter verdicts, rate
//! limits, moderator actions) are recorded as they were made, never recomputed on replay.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::verdict::{Description, Verdict};

/// Who made a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Actor {
    /// Saring itself: the filter at submission time.
    System,
    /// A moderator, by the name given in the configuration.
    Moderator(String),
}

impl Actor {
    /// The form used in event metadata: `system` or `moderator:<name>`.
    pub fn label(&self) -> String {
        match self {
            Actor::System => "system".into(),
            Actor::Moderator(name) => format!("moderator:{name}"),
        }
    }
}

/// A decision by a moderator: the event keeps the name as the string it always stored (old
/// logs, written before names were checked, must load), but new decisions only come from a
/// checked [`ModeratorName`](crate::domain::values::ModeratorName).
impl From<&crate::domain::values::ModeratorName> for Actor {
    fn from(name: &crate::domain::values::ModeratorName) -> Actor {
        Actor::Moderator(name.to_string())
    }
}

/// Facts about the client that sent a submission. Private: never shown publicly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClientFacts {
    /// The client address as Saring determined it (socket or trusted proxy chain).
    pub ip: String,
    /// The `User-Agent` header, truncated.
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// What a reader submitted, after validation. Email and client facts are private.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Submission {
    /// The comment's id, derived from the captcha nonce so a replay lands on the same stream.
    #[schema(value_type = String)]
    pub comment_id: Uuid,
    /// The site's key for the article.
    pub thread: String,
    /// The comment replied to, if any.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Uuid>,
    /// Display name.
    pub author_name: String,
    /// Private email address.
    pub author_email: String,
    /// Optional website of the author.
    #[serde(default)]
    pub author_url: Option<String>,
    /// The comment text as typed (newlines normalised to `\n`).
    pub body: String,
    /// Address and user agent.
    pub client: ClientFacts,
    /// Milliseconds between captcha issue and submission.
    pub captcha_solve_ms: u64,
    /// How the reader came past the captcha (sum, skip, trusted, no-JS) with the token's
    /// difficulty and the stamp's bits; absent in events written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pow: Option<crate::pow::PowFacts>,
    /// Whether the reader showed a valid known-reader token for this email; absent in events
    /// written before tokens existed (the email record alone was trust then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_reader: Option<bool>,
    /// Language the reader used (`id` or `en`).
    pub lang: crate::i18n::Lang,
    /// When Saring received it.
    #[schema(value_type = String, format = DateTime)]
    pub submitted_at: DateTime<Utc>,
    /// The author's key was erased at their request (`crate::privacy`): every personal field
    /// above (name, email, website, body, client facts) is empty and cannot be recovered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
}

impl Submission {
    /// Empties every personal field and marks the submission erased, as it reads once its
    /// author's key is gone (`crate::privacy`).
    pub fn redact(&mut self) {
        self.author_name.clear();
        self.author_email.clear();
        self.author_url = None;
        self.body.clear();
        self.client = ClientFacts {
            ip: String::new(),
            user_agent: None,
        };
        self.erased = true;
    }
}

/// Every event Saring stores. The variant name is the event type in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DomainEvent {
    /// A reader's comment passed the captcha and the rate limits and was received.
    CommentSubmitted(Submission),
    /// The policy engine scored the submission.
    CommentScreened {
        /// The verdict with every matched rule and the policy version.
        verdict: Verdict,
        /// Fingerprint of the normalised body under that policy, so duplicate detection after a
        /// replay needs no re-normalisation and sees what the filter saw.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<u64>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The comment became visible (the filter accepted it).
    CommentPublished {
        /// When.
        at: DateTime<Utc>,
    },
    /// The comment waits for a moderator.
    CommentHeld {
        /// When.
        at: DateTime<Utc>,
    },
    /// A moderator approved the comment; it is visible.
    CommentApproved {
        /// Who.
        by: Actor,
        /// Free-text reason, may be empty.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The comment was refused (by the filter's forced reject or by a moderator).
    CommentRejected {
        /// Who.
        by: Actor,
        /// Free-text reason.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The comment was classed as spam (by the filter or a moderator).
    CommentMarkedSpam {
        /// Who.
        by: Actor,
        /// Free-text reason.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A moderator said a spam-classed comment is not spam; it becomes visible.
    CommentMarkedNotSpam {
        /// Who.
        by: Actor,
        /// Free-text reason.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A reader reported the comment.
    CommentFlagged {
        /// A private, salted hash identifying the reporter (one report per reader).
        reporter: String,
        /// What the reader wrote, may be empty.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Enough readers reported the comment: it goes to the reported queue.
    CommentReportedQueued {
        /// How many reports it had.
        reports: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// A moderator deleted the comment; it can be restored.
    CommentDeleted {
        /// Who.
        by: Actor,
        /// Free-text reason.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A moderator restored a deleted comment to the state it had before.
    CommentRestored {
        /// Who.
        by: Actor,
        /// Free-text reason.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The comment was brought in from another system by `saring import` rather than screened:
    /// follows its `CommentSubmitted`, before the state the source had given it.
    CommentImported {
        /// The system it came from (`wordpress`, `disqus`, `isso`).
        source: String,
        /// Its id in that system, so the history shows where it came from.
        original_id: String,
        /// When it was imported.
        at: DateTime<Utc>,
    },
    /// A moderator closed a thread to new comments.
    ThreadClosed {
        /// The thread.
        thread: String,
        /// Who.
        by: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// A moderator reopened a closed thread.
    ThreadReopened {
        /// The thread.
        thread: String,
        /// Who.
        by: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// A moderator put a decided comment back in the pending queue (the undo of a decision on
    /// a comment that was pending).
    CommentRequeued {
        /// Who.
        by: Actor,
        /// Free-text reason.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A moderator banned an author (stream [`super::ban::BANS_STREAM`]).
    BanPlaced {
        /// The ban's id.
        id: uuid::Uuid,
        /// What it matches.
        target: super::ban::BanTarget,
        /// Why (private).
        reason: String,
        /// When it ends by itself; `None`: until lifted.
        #[serde(default)]
        expires_at: Option<DateTime<Utc>>,
        /// Whether the author's visible and pending comments were moved to spam at once.
        #[serde(default)]
        spam_existing: bool,
        /// Who.
        by: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// A moderator lifted a ban.
    BanLifted {
        /// The ban's id.
        id: uuid::Uuid,
        /// Why.
        reason: String,
        /// Who.
        by: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// A moderator held every new comment of a thread for review (`on`) or ended that (stream
    /// [`super::premoderation::PREMODERATION_STREAM`]).
    ThreadPremoderationSet {
        /// The thread.
        thread: String,
        /// Whether new comments are now held.
        on: bool,
        /// Who.
        by: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// A policy version was put in force (at start or on reload).
    PolicyActivated {
        /// Hash of the policy files.
        version: String,
        /// Counts of rules by kind.
        summary: serde_json::Value,
        /// Every rule's description by rule id, once per version: verdicts stored at schema 3
        /// refer to these instead of repeating them (empty in older events, whose verdicts
        /// carry their own).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        descriptions: BTreeMap<String, Description>,
        /// When.
        at: DateTime<Utc>,
    },
    /// The comment's author had their personal data erased (`saring privacy erase`): appended
    /// to each of their comments' streams, so projections redact what they copied (the sealed
    /// fields are already unreadable: their key is gone). The comment shows as deleted at the
    /// author's request.
    ReaderErased {
        /// Who.
        by: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// A moderator exported everything stored about one reader (stream
    /// [`PRIVACY_STREAM`]); recorded for the audit without naming the reader.
    ReaderDataExported {
        /// How many comments the export held.
        comments: u32,
        /// Who.
        by: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// A moderator decided a spam wave at once (stream `wave-<id>`, see
    /// [`crate::projections::waves`]); each comment's own decision follows in its stream.
    WaveDecided {
        /// The wave.
        wave: Uuid,
        /// What was decided for its comments.
        action: super::ModeratorAction,
        /// How many of its comments the decision was applied to.
        comments: u32,
        /// Free-text reason.
        reason: String,
        /// Who.
        by: Actor,
        /// When.
        at: DateTime<Utc>,
    },
    /// The retention pass (`[privacy] purge_spam_days`) purged the body of a comment that had
    /// been spam or rejected for that many days: projections empty it and moderators see it as
    /// purged. The sealed body in the `CommentSubmitted` event still opens with the author's
    /// key (see docs/privacy.md).
    BodyPurged {
        /// When.
        at: DateTime<Utc>,
    },
    /// The retention pass (`[privacy] network_days`) dropped the comment's network facts
    /// (address group and user agent) once its day was that many days old: projections and
    /// moderator views forget them, and the day key that sealed them in the log is deleted in
    /// the same pass (see docs/privacy.md).
    NetworkFactsDropped {
        /// When.
        at: DateTime<Utc>,
    },
}

/// The stream of readers' data requests that concern no single comment.
pub const PRIVACY_STREAM: &str = "privacy";

impl DomainEvent {
    /// The event type name, equal to the serde tag.
    pub fn event_type(&self) -> &'static str {
        match self {
            DomainEvent::CommentSubmitted(_) => "CommentSubmitted",
            DomainEvent::CommentScreened { .. } => "CommentScreened",
            DomainEvent::CommentPublished { .. } => "CommentPublished",
            DomainEvent::CommentHeld { .. } => "CommentHeld",
            DomainEvent::CommentApproved { .. } => "CommentApproved",
            DomainEvent::CommentRejected { .. } => "CommentRejected",
            DomainEvent::CommentMarkedSpam { .. } => "CommentMarkedSpam",
            DomainEvent::CommentMarkedNotSpam { .. } => "CommentMarkedNotSpam",
            DomainEvent::CommentFlagged { .. } => "CommentFlagged",
            DomainEvent::CommentReportedQueued { .. } => "CommentReportedQueued",
            DomainEvent::CommentDeleted { .. } => "CommentDeleted",
            DomainEvent::CommentRestored { .. } => "CommentRestored",
            DomainEvent::CommentImported { .. } => "CommentImported",
            DomainEvent::ThreadClosed { .. } => "ThreadClosed",
            DomainEvent::ThreadReopened { .. } => "ThreadReopened",
            DomainEvent::PolicyActivated { .. } => "PolicyActivated",
            DomainEvent::CommentRequeued { .. } => "CommentRequeued",
            DomainEvent::BanPlaced { .. } => "BanPlaced",
            DomainEvent::BanLifted { .. } => "BanLifted",
            DomainEvent::ThreadPremoderationSet { .. } => "ThreadPremoderationSet",
            DomainEvent::ReaderErased { .. } => "ReaderErased",
            DomainEvent::ReaderDataExported { .. } => "ReaderDataExported",
            DomainEvent::WaveDecided { .. } => "WaveDecided",
            DomainEvent::BodyPurged { .. } => "BodyPurged",
            DomainEvent::NetworkFactsDropped { .. } => "NetworkFactsDropped",
        }
    }

    /// The actor to record in the envelope's metadata.
    pub fn actor(&self) -> Actor {
        match self {
            DomainEvent::CommentApproved { by, .. }
            | DomainEvent::CommentRejected { by, .. }
            | DomainEvent::CommentMarkedSpam { by, .. }
            | DomainEvent::CommentMarkedNotSpam { by, .. }
            | DomainEvent::CommentDeleted { by, .. }
            | DomainEvent::CommentRestored { by, .. }
            | DomainEvent::ThreadClosed { by, .. }
            | DomainEvent::ThreadReopened { by, .. }
            | DomainEvent::CommentRequeued { by, .. }
            | DomainEvent::BanPlaced { by, .. }
            | DomainEvent::BanLifted { by, .. }
            | DomainEvent::ThreadPremoderationSet { by, .. }
            | DomainEvent::ReaderErased { by, .. }
            | DomainEvent::ReaderDataExported { by, .. }
            | DomainEvent::WaveDecided { by, .. } => by.clone(),
            _ => Actor::System,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::codec::{Decoded, decode, encode};
    use crate::pow::{CaptchaPath, PowFacts};

    /// A `CommentSubmitted` as events were written before the captcha path was recorded.
    fn older() -> serde_json::Value {
        json!({
            "type": "CommentSubmitted",
            "comment_id": "7b0c5d43-2c0c-5a6f-9d53-0f6f0a1c2b3d",
            "thread": "berita-1",
            "parent_id": null,
            "author_name": "Sari",
            "author_email": "sari@contoh.id",
            "author_url": null,
            "body": "Terima kasih.",
            "client": {"ip": "203.0.113.9", "user_agent": null},
            "captcha_solve_ms": 4000,
            "lang": "id",
            "submitted_at": "2026-11-28T10:00:00Z",
        })
    }

    #[test]
    fn a_submission_written_before_the_captcha_facts_decodes_without_them() {
        for schema in [1, 2] {
            let Decoded::Known(DomainEvent::CommentSubmitted(s)) =
                decode("CommentSubmitted", schema, &older())
            else {
                panic!("an older submission decodes");
            };
            assert_eq!((s.pow, s.known_reader), (None, None));
            // Written back, it is the same bytes: no empty fields appear.
            let (_, _, data) = encode(&DomainEvent::CommentSubmitted(s)).unwrap();
            assert_eq!(data, older());
        }
    }

    #[test]
    fn the_captcha_path_and_the_token_survive_a_round_trip() {
        let Decoded::Known(DomainEvent::CommentSubmitted(mut s)) =
            decode("CommentSubmitted", 2, &older())
        else {
            panic!("decodes");
        };
        s.pow = Some(PowFacts {
            path: CaptchaPath::Skip,
            difficulty: 16,
            bits: 19,
        });
        s.known_reader = Some(false);
        let event = DomainEvent::CommentSubmitted(s);
        let (kind, version, data) = encode(&event).unwrap();
        assert_eq!(
            data["pow"],
            json!({"path": "skip", "difficulty": 16, "bits": 19})
        );
        assert_eq!(decode(kind, version, &data), Decoded::Known(event));
    }
}
