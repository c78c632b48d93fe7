//! End-to-end tests of the HTTP API: each test starts the real server on port 0 with its own
//! temporary data folder and talks HTTP to it.

mod helpers;

mod audit;
mod bans;
mod bulk;
mod cli;
mod console;
mod errors;
mod flow;
mod form;
mod hostile;
mod hostile_conn;
mod learned;
mod limits;
mod malformed;
mod migrate;
mod moderation;
mod pow;
mod privacy;
mod projections;
mod reports;
mod restart;
mod thread_settings;
mod trust;
mod waves;
mod webhooks;
