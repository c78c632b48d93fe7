//! TEMPORARY stand-in with the agreed public types, replaced by the policy engine branch on merge.
#![allow(missing_docs, dead_code)]
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(String);

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct Description { pub id: String, pub en: String }
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RuleHit { pub id: String, pub score: f64, pub field: String, pub span: Option<(usize, usize)>, pub matched: Option<String>, pub obfuscated: bool, pub description: Description }
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Outcome { Accept, Hold, Spam, Reject }
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Verdict { pub outcome: Outcome, pub score: f64, pub rules: Vec<RuleHit>, pub policy_version: String }
#[derive(Clone, Copy, Debug, Default)]
pub struct History { pub author_approved: u32, pub author_spam: u32, pub ip_spam: u32, pub url_spam: u32, pub same_body_same_author: u32, pub same_body_threads: u32 }
pub struct ScreenInput<'a> { pub body: &'a str, pub author_name: &'a str, pub author_email: &'a str, pub author_url: Option<&'a str>, pub client_ip: Option<IpAddr>, pub user_agent: Option<&'a str>, pub honeypot: Option<&'a str>, pub solve_time_ms: Option<u64>, pub history: Option<History> }
pub struct Policy;
impl Policy {
    pub fn load(_dir: &Path) -> Result<Policy, PolicyError> { Ok(Policy) }
    pub fn version(&self) -> &str { "stand-in" }
    pub fn screen(&self, input: &ScreenInput<'_>) -> Verdict {
        let spam = input.body.contains("garuda88");
        let hold = input.body.contains("http");
        Verdict { outcome: if spam { Outcome::Spam } else if hold { Outcome::Hold } else { Outcome::Accept }, score: 0.0, rules: vec![], policy_version: "stand-in".into() }
    }
    pub fn summary(&self) -> serde_json::Value { serde_json::json!({}) }
}
pub fn body_fingerprint(body: &str) -> u64 { body.len() as u64 }
pub struct PolicyHandle { cur: arc_swap::ArcSwap<Policy>, tx: tokio::sync::watch::Sender<Arc<Policy>> }
impl PolicyHandle {
    pub fn load(dir: std::path::PathBuf) -> Result<Arc<PolicyHandle>, PolicyError> { let p = Arc::new(Policy::load(&dir)?); Ok(Arc::new(PolicyHandle { cur: arc_swap::ArcSwap::new(p.clone()), tx: tokio::sync::watch::channel(p).0 })) }
    pub fn current(&self) -> Arc<Policy> { self.cur.load_full() }
    pub fn reload(&self) -> Result<Arc<Policy>, PolicyError> { Ok(self.current()) }
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Arc<Policy>> { self.tx.subscribe() }
    pub fn last_error(&self) -> Option<String> { None }
}
pub struct WatchGuard;
impl PolicyHandle { pub fn watch_files(self: &Arc<Self>) -> Result<WatchGuard, PolicyError> { Ok(WatchGuard) } }
pub mod cli {
    use super::*;
    pub fn check(_dir: &Path, _out: &mut dyn std::io::Write) -> Result<(), PolicyError> { Ok(()) }
    pub fn test(_p: &Path, _f: &Path, _o: &mut dyn std::io::Write, _r: &mut dyn std::io::Write) -> Result<(), PolicyError> { Ok(()) }
}
