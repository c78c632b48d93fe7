//! The event store's integration tests, one binary: the conformance suite against every backend,
//! the data-folder lock between processes, and crash safety under SIGKILL.

mod burned;
mod child;
mod concurrency;
mod conformance;
mod crash;
mod lock;
mod memory;
mod outage;
mod throughput;
