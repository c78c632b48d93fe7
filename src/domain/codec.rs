//! The one codec between domain events and the store's envelopes: which schema version is
//! written, how older versions are upcast to the current shape, and what happens to an event
//! this version does not know.
//!
//! Pure: no I/O, no logging. The service's codec ([`crate::service::codec`]) adds the envelope
//! and logs each unknown type once.
//!
//! Schema history (the envelope's `schema_version`):
//! - **1**: the first shape. The free-text `reason` of moderator decisions and reader reports
//!   could be missing (early events were written without it).
//! - **2**: `reason` is always present (empty when none was given). Upcast from 1 by adding an
//!   empty `reason` where it is missing.
//! - **3**, `CommentScreened` only: a matched rule's `description` is left out when it is the
//!   deciding policy version's own, which that version's `PolicyActivated` carries once (its
//!   `descriptions`); readers that show it look it up by the verdict's `policy_version`. Nothing
//!   to upcast (a missing description decodes empty). Other types stay at 2, so a replica of the
//!   previous version still folds everything but the new verdicts.
//!
//! An event of a type this version does not know, of a schema newer than [`CURRENT_SCHEMA`], or
//! whose data does not fit its type is [`Decoded::Unknown`]: the caller keeps it (it counts in
//! the stream's revision), and folds ignore it. This is what a rolling upgrade needs: a replica
//! of the older version reads streams a newer one wrote to.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::events::DomainEvent;

/// The newest schema version this version reads (and writes for `CommentScreened`).
pub const CURRENT_SCHEMA: u32 = 3;

/// The schema version other event types are written with (their shape did not change in 3).
const BASE_SCHEMA: u32 = 2;

/// The schema version an event is written with.
pub fn schema_of(event: &DomainEvent) -> u32 {
    match event {
        DomainEvent::CommentScreened { .. } => CURRENT_SCHEMA,
        _ => BASE_SCHEMA,
    }
}

/// Event types whose schema-1 data may lack `reason`.
const REASON_ADDED_IN_2: [&str; 7] = [
    "CommentApproved",
    "CommentRejected",
    "CommentMarkedSpam",
    "CommentMarkedNotSpam",
    "CommentFlagged",
    "CommentDeleted",
    "CommentRestored",
];

/// Every event type this version can decode.
pub const KNOWN_TYPES: [&str; 25] = [
    "CommentSubmitted",
    "CommentScreened",
    "CommentPublished",
    "CommentHeld",
    "CommentApproved",
    "CommentRejected",
    "CommentMarkedSpam",
    "CommentMarkedNotSpam",
    "CommentFlagged",
    "CommentReportedQueued",
    "CommentDeleted",
    "CommentRestored",
    "CommentImported",
    "ThreadClosed",
    "ThreadReopened",
    "PolicyActivated",
    "CommentRequeued",
    "BanPlaced",
    "BanLifted",
    "ThreadPremoderationSet",
    "ReaderErased",
    "ReaderDataExported",
    "WaveDecided",
    "BodyPurged",
    "NetworkFactsDropped",
];

/// Why an event was kept undecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnknownReason {
    /// The type is not one this version knows (written by a newer version).
    Type,
    /// The type is known but its schema version is newer than [`CURRENT_SCHEMA`].
    NewerSchema,
    /// The data does not fit the type at its (upcast) schema; carries the parser's words.
    Malformed(String),
}

/// A stored event as this version reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// An event of the current shape (upcast if it was older).
    Known(DomainEvent),
    /// An event kept as it is and ignored by the folds.
    Unknown {
        /// The envelope's type name.
        event_type: String,
        /// The envelope's schema version.
        schema_version: u32,
        /// Why it could not be read.
        reason: UnknownReason,
    },
}

/// A domain event as the envelope stores it: type name, schema version and JSON data.
pub fn encode(event: &DomainEvent) -> Result<(&'static str, u32, Value), serde_json::Error> {
    Ok((
        event.event_type(),
        schema_of(event),
        serde_json::to_value(event)?,
    ))
}

/// Reads a stored event's data, upcasting older schema versions first.
pub fn decode(event_type: &str, schema_version: u32, data: &Value) -> Decoded {
    let unknown = |reason| Decoded::Unknown {
        event_type: event_type.to_string(),
        schema_version,
        reason,
    };
    if !KNOWN_TYPES.contains(&event_type) {
        return unknown(UnknownReason::Type);
    }
    if schema_version > CURRENT_SCHEMA {
        return unknown(UnknownReason::NewerSchema);
    }
    if data.get("type").and_then(Value::as_str) != Some(event_type) {
        return unknown(UnknownReason::Malformed(
            "the data's type tag differs from the envelope's".into(),
        ));
    }
    let data = upcast(event_type, schema_version, data);
    match DomainEvent::deserialize(data.as_ref()) {
        Ok(event) => Decoded::Known(event),
        Err(e) => unknown(UnknownReason::Malformed(e.to_string())),
    }
}

/// Brings data of an older schema to the current shape; borrowed when nothing changes.
fn upcast<'a>(event_type: &str, schema_version: u32, data: &'a Value) -> Cow<'a, Value> {
    let mut data = Cow::Borrowed(data);
    if schema_version < 2
        && REASON_ADDED_IN_2.contains(&event_type)
        && data.get("reason").is_none()
        && let Value::Object(map) = data.to_mut()
    {
        map.insert("reason".into(), Value::String(String::new()));
    }
    data
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::domain::Actor;

    fn at() -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap()
    }

    fn approved(reason: &str) -> DomainEvent {
        DomainEvent::CommentApproved {
            by: Actor::Moderator("ayu".into()),
            reason: reason.into(),
            at: at(),
        }
    }

    fn screened(description: crate::domain::verdict::Description) -> DomainEvent {
        DomainEvent::CommentScreened {
            verdict: crate::domain::verdict::Verdict {
                outcome: crate::domain::verdict::Outcome::Spam,
                score: 9.0,
                rules: vec![crate::domain::verdict::RuleHit {
                    id: "GAMBLING_BRAND".into(),
                    score: 9.0,
                    field: "body".into(),
                    span: Some((0, 8)),
                    matched: Some("GARUDA88".into()),
                    obfuscated: false,
                    description,
                    evidence: vec![],
                }],
                policy_version: "v1".into(),
            },
            fingerprint: Some(7),
            at: at(),
        }
    }

    /// A verdict written at schema 3 without its rule's description reads back without it
    /// (looked up by policy version later); one of schema 2 keeps the description it carried.
    #[test]
    fn verdicts_without_descriptions_are_schema_3_and_older_ones_keep_theirs() {
        let (kind, version, data) = encode(&screened(Default::default())).unwrap();
        assert_eq!((kind, version), ("CommentScreened", 3));
        assert!(!data.to_string().contains("description"), "{data}");
        assert_eq!(
            decode(kind, version, &data),
            Decoded::Known(screened(Default::default()))
        );
        let described = crate::domain::verdict::Description {
            id: "Merek judi".into(),
            en: "Gambling brand".into(),
        };
        let (_, _, old) = encode(&screened(described.clone())).unwrap();
        assert_eq!(decode(kind, 2, &old), Decoded::Known(screened(described)));
    }

    #[test]
    fn events_are_written_with_the_current_schema_and_read_back() {
        let (kind, version, data) = encode(&approved("oke")).unwrap();
        assert_eq!((kind, version), ("CommentApproved", BASE_SCHEMA));
        assert_eq!(
            decode(kind, version, &data),
            Decoded::Known(approved("oke"))
        );
    }

    #[test]
    fn a_version_1_decision_without_a_reason_is_upcast_to_an_empty_one() {
        let v1 = json!({
            "type": "CommentApproved",
            "by": {"kind": "moderator", "name": "ayu"},
            "at": "2026-11-28T10:00:00Z",
        });
        assert_eq!(
            decode("CommentApproved", 1, &v1),
            Decoded::Known(approved(""))
        );
        let v1_report = json!({
            "type": "CommentFlagged", "reporter": "abc", "at": "2026-11-28T10:00:00Z",
        });
        assert!(matches!(
            decode("CommentFlagged", 1, &v1_report),
            Decoded::Known(DomainEvent::CommentFlagged { reason, .. }) if reason.is_empty()
        ));
    }

    #[test]
    fn a_version_1_decision_with_a_reason_keeps_it() {
        let (_, _, data) = encode(&approved("sudah dicek")).unwrap();
        assert_eq!(
            decode("CommentApproved", 1, &data),
            Decoded::Known(approved("sudah dicek"))
        );
    }

    #[test]
    fn the_current_schema_requires_what_it_promises() {
        // A version-2 event without `reason` is not upcast: it is malformed, and kept unread.
        let v2 = json!({
            "type": "CommentApproved",
            "by": {"kind": "moderator", "name": "ayu"},
            "at": "2026-11-28T10:00:00Z",
        });
        assert!(matches!(
            decode("CommentApproved", 2, &v2),
            Decoded::Unknown {
                reason: UnknownReason::Malformed(_),
                ..
            }
        ));
    }

    #[test]
    fn an_unknown_type_is_kept_as_unknown() {
        let data = json!({"type": "CommentPinned", "by": "ayu"});
        assert_eq!(
            decode("CommentPinned", 1, &data),
            Decoded::Unknown {
                event_type: "CommentPinned".into(),
                schema_version: 1,
                reason: UnknownReason::Type,
            }
        );
    }

    #[test]
    fn a_newer_schema_of_a_known_type_is_kept_as_unknown() {
        let (kind, _, data) = encode(&approved("x")).unwrap();
        assert!(matches!(
            decode(kind, CURRENT_SCHEMA + 1, &data),
            Decoded::Unknown {
                reason: UnknownReason::NewerSchema,
                ..
            }
        ));
    }

    #[test]
    fn data_that_does_not_fit_its_envelope_is_kept_as_unknown() {
        let (_, _, data) = encode(&approved("x")).unwrap();
        assert!(matches!(
            decode("CommentRejected", CURRENT_SCHEMA, &data),
            Decoded::Unknown {
                reason: UnknownReason::Malformed(_),
                ..
            }
        ));
        assert!(matches!(
            decode(
                "CommentApproved",
                CURRENT_SCHEMA,
                &json!({"type": "CommentApproved"})
            ),
            Decoded::Unknown {
                reason: UnknownReason::Malformed(_),
                ..
            }
        ));
    }

    #[test]
    fn every_event_type_is_known() {
        let samples = [
            approved(""),
            DomainEvent::ThreadClosed {
                thread: "t".into(),
                by: Actor::Moderator("ayu".into()),
                at: at(),
            },
            DomainEvent::CommentHeld { at: at() },
            DomainEvent::WaveDecided {
                wave: uuid::Uuid::from_u128(7),
                action: crate::domain::ModeratorAction::Spam,
                comments: 12,
                reason: String::new(),
                by: Actor::Moderator("ayu".into()),
                at: at(),
            },
        ];
        for e in samples {
            assert!(KNOWN_TYPES.contains(&e.event_type()));
            let (kind, version, data) = encode(&e).unwrap();
            assert_eq!(decode(kind, version, &data), Decoded::Known(e));
        }
    }

    proptest! {
        #[test]
        fn any_reason_survives_a_round_trip_at_either_schema(reason in any::<String>(), v1 in any::<bool>()) {
            let (kind, version, data) = encode(&approved(&reason)).unwrap();
            let version = if v1 { 1 } else { version };
            prop_assert_eq!(decode(kind, version, &data), Decoded::Known(approved(&reason)));
        }

        #[test]
        fn decoding_never_panics_on_arbitrary_data(kind in "[A-Za-z]{0,24}", version in 0u32..5, text in any::<String>()) {
            let data = json!({"type": kind.clone(), "reason": text, "at": "2026-11-28T10:00:00Z"});
            let _ = decode(&kind, version, &data);
        }
    }
}
