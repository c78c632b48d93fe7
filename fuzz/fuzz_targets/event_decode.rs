//! Decoding any stored event (any type name, schema version and JSON data) must never panic: a
//! row written by a newer replica or damaged on disk is an unknown event, not a crash.
//! Run from the repository root: `RUSTC_BOOTSTRAP=1 cargo fuzz run event_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use saring::domain::codec::{KNOWN_TYPES, decode};

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    // Every type the codec knows, and (one slot past the end) one it does not.
    let event_type = KNOWN_TYPES
        .get(usize::from(head) % (KNOWN_TYPES.len() + 1))
        .copied()
        .unwrap_or("Nonsense");
    let schema_version = u32::from(head >> 4);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(rest) {
        let _ = decode(event_type, schema_version, &value);
    }
});
