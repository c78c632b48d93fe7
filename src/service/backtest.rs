//! `saring policy backtest`: replays every stored submission through a candidate policy and
//! reports which outcomes would change, next to what moderators actually decided.
//!
//! The author history each submission is screened with is rebuilt as of that moment by folding
//! the log alongside, so a rule on "earlier spam by this author" sees what the live filter saw.

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

use crate::domain::{Actor, DomainEvent, Submission};
use crate::policy::{Outcome, Policy};
use crate::projections::{EventPosition, Projections};
use crate::store::{EventStore, StoreError};

/// One submission whose outcome would change.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// Comment id.
    pub id: Uuid,
    /// Thread key.
    pub thread: String,
    /// Outcome when it was screened.
    pub was: Outcome,
    /// Outcome under the candidate policy.
    pub would_be: Outcome,
    /// Candidate score.
    pub score: f64,
    /// The last decision a moderator made, if any (`approve`, `spam`, ...).
    pub moderator_decision: Option<String>,
    /// The candidate's matched rule ids.
    pub rules: Vec<String>,
    /// The first 80 characters of the body.
    pub excerpt: String,
}

/// The backtest's findings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BacktestReport {
    /// Version of the candidate policy.
    pub policy_version: String,
    /// Submissions replayed.
    pub submissions: usize,
    /// Outcomes that would change.
    pub changes: Vec<Change>,
    /// Of the changes, how many agree with the moderator's later decision.
    pub agree_with_moderators: usize,
    /// Of the changes, how many contradict the moderator's later decision.
    pub disagree_with_moderators: usize,
}

fn moderator_label(e: &DomainEvent) -> Option<&'static str> {
    let (by, label) = match e {
        DomainEvent::CommentApproved { by, .. } => (by, "approve"),
        DomainEvent::CommentRejected { by, .. } => (by, "reject"),
        DomainEvent::CommentMarkedSpam { by, .. } => (by, "spam"),
        DomainEvent::CommentMarkedNotSpam { by, .. } => (by, "not_spam"),
        DomainEvent::CommentDeleted { by, .. } => (by, "delete"),
        DomainEvent::CommentRestored { by, .. } => (by, "restore"),
        _ => return None,
    };
    matches!(by, Actor::Moderator(_)).then_some(label)
}

/// Whether a moderator's decision says the comment was unwanted.
fn unwanted(decision: &str) -> bool {
    matches!(decision, "reject" | "spam" | "delete")
}

/// Replays the log through `candidate`.
pub async fn run(store: &dyn EventStore, candidate: &Policy) -> Result<BacktestReport, StoreError> {
    let mut proj = Projections::default();
    let mut original: HashMap<Uuid, Outcome> = HashMap::new();
    let mut decisions: HashMap<Uuid, String> = HashMap::new();
    let mut submissions: Vec<(Submission, Outcome, f64, Vec<String>)> = Vec::new();
    let mut from = 1;
    loop {
        let batch = store.read_all(from, 4096).await?;
        let Some(last) = batch.last() else { break };
        from = last.position + 1;
        for r in &batch {
            let Some(event) = DomainEvent::from_json(&r.data) else {
                continue;
            };
            let id = crate::domain::comment::id_from_stream(&r.stream);
            match &event {
                DomainEvent::CommentSubmitted(s) => {
                    let fp = crate::policy::body_fingerprint(&s.body);
                    let history = proj.authors.history(
                        &s.author_email,
                        &s.client.ip,
                        s.author_url.as_deref(),
                        fp,
                        &s.thread,
                        s.submitted_at,
                    );
                    let client_ip = s.client.ip.split('/').next().and_then(|ip| ip.parse().ok());
                    let v = super::screen(candidate, s, client_ip, "", Some(history));
                    let rules = v.rules.iter().map(|h| h.id.clone()).collect();
                    submissions.push((s.clone(), v.outcome, v.score, rules));
                }
                DomainEvent::CommentScreened { verdict, .. } => {
                    if let Some(id) = id {
                        original.insert(id, verdict.outcome);
                    }
                }
                other => {
                    if let (Some(id), Some(label)) = (id, moderator_label(other)) {
                        decisions.insert(id, label.to_string());
                    }
                }
            }
            proj.apply(
                EventPosition {
                    stream: &r.stream,
                    revision: r.revision,
                    position: r.position,
                },
                &event,
            );
        }
    }
    let mut report = BacktestReport {
        policy_version: candidate.version().to_string(),
        submissions: submissions.len(),
        ..Default::default()
    };
    for (s, would_be, score, rules) in submissions {
        let Some(was) = original.get(&s.comment_id).copied() else {
            continue;
        };
        if was == would_be {
            continue;
        }
        let decision = decisions.get(&s.comment_id).cloned();
        if let Some(d) = &decision {
            let candidate_blocks = would_be != Outcome::Accept;
            if candidate_blocks == unwanted(d) {
                report.agree_with_moderators += 1;
            } else {
                report.disagree_with_moderators += 1;
            }
        }
        report.changes.push(Change {
            id: s.comment_id,
            thread: s.thread,
            was,
            would_be,
            score,
            moderator_decision: decision,
            rules,
            excerpt: s.body.chars().take(80).collect(),
        });
    }
    Ok(report)
}
