//! Readers' data rights: everything stored about one reader, and its erasure by
//! crypto-shredding (see docs/privacy.md).
//!
//! The embedded store seals each submission's personal fields with a key per author
//! ([`keys`], [`seal`], [`store`]); erasing a reader appends a `ReaderErased` event to each of
//! their comments (so projections forget what they copied) and then deletes their key, after
//! which the log still holds every event but the sealed fields can no longer be opened.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::comment::{self, CommentState};
use crate::domain::values::{Email, ValueError};
use crate::domain::{Actor, DomainEvent, PRIVACY_STREAM, comment_stream};
use crate::store::{EventMetadata, EventStore, ExpectedRevision, StoreError};

pub mod cli;
pub mod keys;
pub mod retention;
pub mod seal;
pub mod store;

/// Events read per page while scanning the log.
const SCAN_PAGE: usize = 1_000;

/// Why a data request failed.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The store does not seal submissions, so nothing can be made unreadable there.
    #[error(
        "erasure needs sealed submissions, which the {backend} store does not keep; the \
         embedded store (the default), PostgreSQL and KurrentDB support `privacy erase` (see \
         docs/privacy.md)"
    )]
    Unsupported {
        /// The store's backend name.
        backend: &'static str,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key file failed.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
}

/// A reader's email as the privacy tools look it up: trimmed like a submission's, then
/// parsed by [`Email::parse`] (so it is refused exactly where a comment's would be, with the
/// same [`ValueError`]), then its ASCII letters lowercased: the log scan and the bans compare
/// emails with `eq_ignore_ascii_case` (and the author keys and projections lowercase them), so
/// `Sari@Contoh.ID` and `sari@contoh.id` are one reader. ASCII folding keeps the length, so
/// the folded address is as valid as the typed one.
pub fn normalise_email(email: &str) -> Result<Email, ValueError> {
    let email = Email::parse(email.trim())?;
    Email::parse(&email.as_str().to_ascii_lowercase())
}

/// One event of a comment's history, as the export shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ExportHistoryEntry)]
pub struct HistoryEntry {
    /// The event type.
    #[serde(rename = "type")]
    pub event: String,
    /// When it was recorded.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// Who: `reader`, `system` or `moderator:<name>`.
    pub by: Option<String>,
    /// The reason given, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The filter's outcome and score, for a screening.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub outcome: Option<serde_json::Value>,
}

/// One of the reader's comments with everything stored about it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportedComment {
    /// The submission as stored (name, email, website, body, address group, user agent).
    pub submission: crate::domain::Submission,
    /// Its status now (`published`, `pending`, `spam`, `rejected`, `deleted`).
    pub status: Option<&'static str>,
    /// Every event of its stream: screening, decisions, reports, imports.
    pub history: Vec<HistoryEntry>,
}

/// A report another reader made about one of the reader's comments (the reporter stays
/// private: only the reason and time are shown).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReceivedReport {
    /// The comment reported.
    #[schema(value_type = String)]
    pub comment: Uuid,
    /// What the reporter wrote.
    pub reason: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
}

/// A ban naming the reader's email.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BanAbout {
    /// The ban's id.
    #[schema(value_type = String)]
    pub id: Uuid,
    /// Why.
    pub reason: String,
    /// Who placed it.
    pub by: String,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// When it ends by itself.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it was lifted since.
    pub lifted: bool,
}

/// Everything Saring stores about one reader (`saring privacy export`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReaderExport {
    /// The email asked about, normalised.
    #[schema(value_type = String)]
    pub email: Email,
    /// When the export was made.
    #[schema(value_type = String, format = DateTime)]
    pub exported_at: DateTime<Utc>,
    /// Their comments, oldest first.
    pub comments: Vec<ExportedComment>,
    /// Reports other readers made about their comments.
    pub reports_received: Vec<ReceivedReport>,
    /// Bans naming their email.
    pub bans: Vec<BanAbout>,
    /// What the export cannot show, in words.
    pub notes: Vec<&'static str>,
}

const NOTES: [&str; 2] = [
    "Reports this reader made are stored under a salted hash of the reporter's address, \
     which cannot be traced back to an email; they are not listed.",
    "Comments whose author's data was erased earlier no longer name any email and are not \
     listed.",
];

/// What one pass over the log found about an email.
struct Found {
    comments: Vec<(Uuid, CommentState, Vec<HistoryEntry>)>,
    reports: Vec<ReceivedReport>,
    bans: Vec<BanAbout>,
    /// The last position read, if the log held any event.
    end: Option<u64>,
}

/// Reads the whole log once (through the store, so submissions arrive opened) and gathers
/// what concerns `email` (normalised). A comment's stream starts with its submission, so one
/// pass in global order sees the submission before the events about it.
async fn scan(store: &dyn EventStore, email: &Email, from: u64) -> Result<Found, StoreError> {
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    let mut found = Found {
        comments: Vec::new(),
        reports: Vec::new(),
        bans: Vec::new(),
        end: None,
    };
    let mut bans: HashMap<Uuid, usize> = HashMap::new();
    let mut position = from;
    loop {
        let page = store.read_all(position, SCAN_PAGE).await?;
        let Some(last) = page.last() else { break };
        position = last.position + 1;
        found.end = Some(last.position);
        for recorded in &page {
            let Some(event) = crate::service::codec::decode_recorded(recorded) else {
                continue;
            };
            if let DomainEvent::CommentSubmitted(s) = &event
                && !s.erased
                && s.author_email.trim().eq_ignore_ascii_case(email.as_str())
            {
                index.insert(s.comment_id, found.comments.len());
                found
                    .comments
                    .push((s.comment_id, CommentState::default(), Vec::new()));
            }
            match &event {
                DomainEvent::BanPlaced {
                    id,
                    target: crate::domain::ban::BanTarget::Email(e),
                    reason,
                    expires_at,
                    by,
                    at,
                    ..
                } if e.eq_ignore_ascii_case(email.as_str()) => {
                    bans.insert(*id, found.bans.len());
                    found.bans.push(BanAbout {
                        id: *id,
                        reason: reason.clone(),
                        by: by.label(),
                        at: *at,
                        expires_at: *expires_at,
                        lifted: false,
                    });
                }
                DomainEvent::BanLifted { id, .. } => {
                    if let Some(&i) = bans.get(id) {
                        found.bans[i].lifted = true;
                    }
                }
                _ => {}
            }
            let Some(&i) = comment::id_from_stream(&recorded.stream).and_then(|id| index.get(&id))
            else {
                continue;
            };
            let (id, state, history) = &mut found.comments[i];
            if let DomainEvent::CommentFlagged { reason, at, .. } = &event {
                found.reports.push(ReceivedReport {
                    comment: *id,
                    reason: reason.clone(),
                    at: *at,
                });
            }
            let data = &recorded.data;
            history.push(HistoryEntry {
                event: recorded.event_type.clone(),
                at: recorded.recorded_at,
                by: recorded.metadata.actor.clone(),
                reason: data
                    .get("reason")
                    .and_then(|r| r.as_str())
                    .filter(|r| {
                        !r.is_empty() && !matches!(event, DomainEvent::CommentFlagged { .. })
                    })
                    .map(String::from),
                outcome: data.get("verdict").map(
                    |v| serde_json::json!({"outcome": v.get("outcome"), "score": v.get("score")}),
                ),
            });
            *state = comment::evolve(std::mem::take(state), &event);
        }
    }
    Ok(found)
}

/// Everything stored about the reader with this email. Recorded in the audit trail (without
/// the email) when `by` is given.
pub async fn export(
    store: &dyn EventStore,
    email: &Email,
    by: Option<&Actor>,
    now: DateTime<Utc>,
) -> Result<ReaderExport, PrivacyError> {
    let found = scan(store, email, 0).await?;
    let comments: Vec<ExportedComment> = found
        .comments
        .into_iter()
        .filter_map(|(_, state, history)| {
            Some(ExportedComment {
                status: state.status.map(crate::domain::CommentStatus::as_str),
                submission: state.submission?,
                history,
            })
        })
        .collect();
    if let Some(by) = by {
        append(
            store,
            PRIVACY_STREAM,
            DomainEvent::ReaderDataExported {
                comments: u32::try_from(comments.len()).unwrap_or(u32::MAX),
                by: by.clone(),
                at: now,
            },
        )
        .await?;
    }
    Ok(ReaderExport {
        email: email.clone(),
        exported_at: now,
        comments,
        reports_received: found.reports,
        bans: found.bans,
        notes: NOTES.to_vec(),
    })
}

/// What an erasure did.
#[derive(Debug, Clone, Serialize)]
pub struct Erasure {
    /// Comments now shown as deleted at the author's request.
    pub comments: usize,
    /// Whether a key was deleted (`false`: the reader had no sealed comments left).
    pub key_deleted: bool,
    /// The log position of the last event appended, so a caller can wait for the projections.
    #[serde(skip)]
    pub last_position: Option<u64>,
}

async fn append(
    store: &dyn EventStore,
    stream: &str,
    event: DomainEvent,
) -> Result<u64, StoreError> {
    let actor = event.actor().label();
    let new = crate::service::codec::encode(&event)?.with_metadata(EventMetadata {
        actor: Some(actor),
        ..EventMetadata::default()
    });
    Ok(store
        .append(stream, ExpectedRevision::Any, vec![new])
        .await?
        .position)
}

/// Erases the reader with this email: appends `ReaderErased` to each of their comments, then
/// deletes their key, then catches the comments they may have sent during the pass (sealed
/// with the deleted key, so already unreadable) so their projections forget them too. Safe to
/// repeat: a pass cut short leaves the key, and the next one finds the comments again.
pub async fn erase(
    store: &dyn EventStore,
    email: &Email,
    by: &Actor,
    now: DateTime<Utc>,
) -> Result<Erasure, PrivacyError> {
    let keys = store.privacy_keys().ok_or(PrivacyError::Unsupported {
        backend: store.backend_name(),
    })?;
    let found = scan(store, email, 0).await?;
    let mut done: HashSet<Uuid> = HashSet::new();
    let mut last_position = None;
    for (id, state, _) in &found.comments {
        if state.submission.as_ref().is_some_and(|s| s.erased) {
            continue;
        }
        last_position = Some(erase_comment(store, *id, by, now).await?);
        done.insert(*id);
    }
    let author = keys::author_of(email.as_str(), "");
    // The owner's key, and every key the reader's submissions name: a crash may have kept a
    // key made ahead from getting its owner row, and the comments sealed under it still open
    // (see keys.rs). They are the reader's own keys, since the key follows the email.
    let streams: Vec<String> = done.iter().map(|id| comment_stream(*id)).collect();
    let named = store.sealing_key_ids(&streams).await?;
    let key_deleted = {
        let keys = Arc::clone(&keys);
        tokio::task::spawn_blocking(move || {
            let owned = keys.erase(&author)?;
            let by_id = keys.erase_keys(&named)?;
            Ok::<_, keys::KeyError>(owned.is_some() || !by_id.is_empty())
        })
        .await
        .map_err(|e| StoreError::Backend(format!("erasing the key: {e}")))?
        .map_err(|e| match e.store_error() {
            Some(e) => PrivacyError::Store(e),
            None => PrivacyError::Keys(e),
        })?
    };
    // Their bodies no longer open either (sealed under both keys); their body keys go too, so
    // the key store keeps nothing of the reader.
    store.shred_bodies(&streams).await?;
    // Comments appended between the scan and the key's deletion read as erased now, without
    // a ReaderErased of their own yet.
    let mut position = found.end.map_or(0, |p| p + 1);
    loop {
        let page = store.read_all(position, SCAN_PAGE).await?;
        let Some(last) = page.last() else { break };
        position = last.position + 1;
        for recorded in &page {
            if let Some(DomainEvent::CommentSubmitted(s)) =
                crate::service::codec::decode_recorded(recorded)
                && s.erased
                && done.insert(s.comment_id)
            {
                last_position = Some(erase_comment(store, s.comment_id, by, now).await?);
            }
        }
    }
    Ok(Erasure {
        comments: done.len(),
        key_deleted,
        last_position,
    })
}

async fn erase_comment(
    store: &dyn EventStore,
    id: Uuid,
    by: &Actor,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    append(
        store,
        &comment_stream(id),
        DomainEvent::ReaderErased {
            by: by.clone(),
            at: now,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_store_that_does_not_seal_refuses_erasure() {
        let dir = tempfile::tempdir().unwrap();
        let plain = crate::store::sqlite::SqliteStore::open(dir.path()).unwrap();
        let by = Actor::Moderator("ayu".into());
        let sari = normalise_email("sari@contoh.id").unwrap();
        let err = erase(&plain, &sari, &by, Utc::now()).await.unwrap_err();
        assert!(matches!(
            err,
            PrivacyError::Unsupported { backend: "sqlite" }
        ));
        assert!(
            err.to_string()
                .contains("the embedded store (the default), PostgreSQL and KurrentDB"),
            "{err}"
        );
    }

    #[test]
    fn a_readers_email_is_refused_where_a_comments_would_be_and_compared_without_case() {
        let long = format!("{}@contoh.id", "a".repeat(250));
        for (bad, refusal) in [
            ("", ValueError::EmailEmpty),
            ("   ", ValueError::EmailEmpty),
            ("sari", ValueError::EmailInvalid),
            ("sari@", ValueError::EmailInvalid),
            ("a b@contoh.id", ValueError::EmailInvalid),
            (long.as_str(), ValueError::EmailTooLong),
        ] {
            assert_eq!(normalise_email(bad).unwrap_err(), refusal, "{bad:?}");
            // The same parser as a comment's email, after the same trim.
            assert_eq!(Email::parse(bad.trim()).unwrap_err(), refusal, "{bad:?}");
        }
        assert_eq!(
            normalise_email(" Sari@Contoh.ID ").unwrap().as_str(),
            "sari@contoh.id"
        );
        // ASCII is folded, as the log scan and the bans compare (`eq_ignore_ascii_case`);
        // other letters are kept, so folding never lengthens an address past its limit.
        assert_eq!(
            normalise_email("SARİ@Contoh.ID").unwrap().as_str(),
            "sarİ@contoh.id"
        );
    }
}
