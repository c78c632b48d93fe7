//! The one place where domain events become stored events and back.

use crate::domain::DomainEvent;
use crate::store::{NewEvent, RecordedEvent, StoreError};

/// A domain event as a new stored event (type name, schema version, JSON data).
pub fn encode(event: &DomainEvent) -> Result<NewEvent, StoreError> {
    let data = serde_json::to_value(event).map_err(|err| StoreError::Invalid(err.to_string()))?;
    Ok(NewEvent::new(event.event_type(), data))
}

/// A stored event as a domain event; `None` for an event this version does not know.
pub fn decode_recorded(recorded: &RecordedEvent) -> Option<DomainEvent> {
    DomainEvent::from_json(&recorded.data)
}
