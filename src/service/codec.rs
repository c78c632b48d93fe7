//! Stored events in and out, through the domain's codec ([`crate::domain::codec`]): the
//! envelope's schema version is written and read here, and each kind of event this version
//! cannot read is logged once, not once per event (a replay would repeat it a million times).

use std::collections::HashSet;
use std::sync::LazyLock;

use parking_lot::Mutex;

use crate::domain::DomainEvent;
use crate::domain::codec::{self, Decoded};
use crate::store::{EventMetadata, NewEvent, RecordedEvent, StoreError};

/// Kinds (type and schema version) of unreadable events already logged. Bounded: the types in
/// a log are few, and one that fills it only stops new warnings, never decoding.
static LOGGED: LazyLock<Mutex<HashSet<(String, u32)>>> = LazyLock::new(Default::default);
const MAX_LOGGED_KINDS: usize = 256;

/// A domain event as a new stored event at the current schema version.
pub fn encode(event: &DomainEvent) -> Result<NewEvent, StoreError> {
    let (event_type, schema_version, data) =
        codec::encode(event).map_err(|e| StoreError::Invalid(format!("event data: {e}")))?;
    let mut new = NewEvent::new(event_type, data);
    new.schema_version = schema_version;
    Ok(new)
}

/// The events one command decided, encoded for one append: each names its actor, and one
/// correlation id ties them together (what the audit trail and the history group by).
pub fn encode_command(events: &[DomainEvent]) -> Result<Vec<NewEvent>, StoreError> {
    let correlation_id = Some(uuid::Uuid::new_v4());
    events
        .iter()
        .map(|e| {
            Ok(encode(e)?.with_metadata(EventMetadata {
                actor: Some(e.actor().label()),
                correlation_id,
                causation_id: None,
            }))
        })
        .collect()
}

/// A stored event as a domain event, upcast if it is older; `None` for one this version cannot
/// read, which the caller keeps counting in revisions and positions.
pub fn decode_recorded(recorded: &RecordedEvent) -> Option<DomainEvent> {
    match codec::decode(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.data,
    ) {
        Decoded::Known(event) => Some(event),
        Decoded::Unknown {
            event_type,
            schema_version,
            reason,
        } => {
            metrics::counter!("saring_events_unreadable_total").increment(1);
            if first_sighting(&event_type, schema_version) {
                tracing::warn!(
                    event_type,
                    schema_version,
                    reason = ?reason,
                    stream = recorded.stream,
                    "kept an event this version cannot read; folds ignore it (logged once per kind)"
                );
            }
            None
        }
    }
}

/// Whether this kind of unreadable event is seen for the first time in this process.
fn first_sighting(event_type: &str, schema_version: u32) -> bool {
    let mut logged = LOGGED.lock();
    let key = (event_type.to_string(), schema_version);
    if logged.contains(&key) || logged.len() >= MAX_LOGGED_KINDS {
        return false;
    }
    logged.insert(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(event_type: &str, schema_version: u32, data: serde_json::Value) -> RecordedEvent {
        RecordedEvent {
            id: uuid::Uuid::new_v4(),
            stream: "comment-x".into(),
            revision: 0,
            position: 1,
            event_type: event_type.into(),
            schema_version,
            recorded_at: chrono::Utc::now(),
            data,
            metadata: Default::default(),
        }
    }

    #[test]
    fn new_events_carry_the_current_schema_version() {
        let e = encode(&DomainEvent::CommentHeld {
            at: chrono::Utc::now(),
        })
        .unwrap();
        assert_eq!(
            e.schema_version,
            codec::schema_of(&DomainEvent::CommentHeld {
                at: chrono::Utc::now(),
            })
        );
        assert_eq!(e.event_type, "CommentHeld");
    }

    #[test]
    fn an_unknown_kind_is_reported_once() {
        assert!(first_sighting("CodecTestOnlyKind", 7));
        assert!(!first_sighting("CodecTestOnlyKind", 7));
        assert!(
            first_sighting("CodecTestOnlyKind", 8),
            "another version is another kind"
        );
    }

    #[test]
    fn unreadable_events_decode_to_nothing_and_readable_ones_to_their_event() {
        let unknown = recorded(
            "CommentPinned",
            1,
            serde_json::json!({"type": "CommentPinned"}),
        );
        assert_eq!(decode_recorded(&unknown), None);
        let held = encode(&DomainEvent::CommentHeld {
            at: chrono::Utc::now(),
        })
        .unwrap();
        let back = recorded(&held.event_type, held.schema_version, held.data.clone());
        assert!(matches!(
            decode_recorded(&back),
            Some(DomainEvent::CommentHeld { .. })
        ));
    }
}
