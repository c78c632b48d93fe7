//! Readers' data rights: everything stored about one reader, and its erasure by
//! crypto-shredding (see docs/privacy.md).
//!
//! The embedded store seals each submission's personal fields with a key per author
//! ([`keys`], [`seal`], [`store`]); erasing a reader appends a `ReaderErased` event to each of
//! their comments (so projections forget what they copied) and then deletes their key, after
//! which the log still holds every event but the sealed fields can no longer be opened.
pub mod keys;
pub mod seal;
pub mod store;
