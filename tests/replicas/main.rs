//! Saring on PostgreSQL as a whole service, and several replicas on one database behaving as one
//! service. Every test runs the real `saring` binary as child processes on port 0, each with its
//! own temporary data folder, on a fresh database of the server named by `SARING_TEST_PG`; without
//! it they print `SKIPPED` and pass.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod outage;
mod policy_follow;
mod replica;
mod service;
mod soak;
mod tls;
mod two_replicas;
