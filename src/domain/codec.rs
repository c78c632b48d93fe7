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
//!
//! An event of a type this version does not know, of a schema newer than [`CURRENT_SCHEMA`], or
//! whose data does not fit its type is [`Decoded::Unknown`]: the caller keeps it (it counts in
//! the stream's revision), and folds ignore it. This is what a rolling upgrade needs: a replica
//! of the older version reads streams a newer one wrote to.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::events::DomainEvent;

/// The schema version every event is written with.
pub const CURRENT_SCHEMA: u32 = 2;

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
pub const KNOWN_TYPES: [&str; 23] = [
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
        CURRENT_SCHEMA,
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

    #[test]
    fn events_are_written_with_the_current_schema_and_read_back() {
        let (kind, version, data) = encode(&approved("oke")).unwrap();
        assert_eq!((kind, version), ("CommentApproved", CURRENT_SCHEMA));
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
