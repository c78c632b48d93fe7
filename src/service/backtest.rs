//! `saring policy backtest`: reads every stored submission from the log, with the author history
//! as it stood at that moment and what moderators later decided, so the policy module can replay
//! them through a candidate policy ([`crate::policy::cli::backtest`]).
//!
//! History is rebuilt by folding the log alongside, so a rule on "earlier spam by this author"
//! sees what the live filter saw.

use std::collections::HashMap;
use std::net::IpAddr;

use uuid::Uuid;

use crate::domain::{Actor, DomainEvent, Submission};
use crate::policy::cli::BacktestCase;
use crate::policy::{History, Outcome};
use crate::projections::{EventPosition, Projections};
use crate::store::{EventStore, StoreError};

/// One stored submission with what the log says about it.
#[derive(Debug, Clone)]
pub struct StoredSubmission {
    /// The comment id as text (the report prints it).
    pub id: String,
    /// What the reader sent.
    pub submission: Submission,
    /// The author's history just before it arrived.
    pub history: History,
    /// The outcome the filter recorded.
    pub recorded: Outcome,
    /// The moderators' last decision, as an outcome.
    pub moderator: Option<Outcome>,
}

impl StoredSubmission {
    /// The case the policy module screens.
    pub fn case(&self) -> BacktestCase<'_> {
        let s = &self.submission;
        // Addresses are stored as their rate-limit group ("203.0.113.9/32" or an IPv6 /64).
        let client_ip: Option<IpAddr> =
            s.client.ip.split('/').next().and_then(|ip| ip.parse().ok());
        BacktestCase {
            comment_id: &self.id,
            input: super::screen_input(s, client_ip, None, Some(self.history)),
            recorded: self.recorded,
            moderator: self.moderator,
        }
    }
}

/// A stored submission screened by the candidate policy with and without what the site's
/// moderators had taught by the moment it arrived.
#[derive(Debug, Clone)]
pub struct LearnedReplay {
    /// The comment id as text.
    pub id: String,
    /// The candidate policy's outcome without the site-learned part.
    pub without: crate::policy::Outcome,
    /// The candidate policy's outcome with it.
    pub with: crate::policy::Outcome,
    /// The moderators' last decision, as an outcome.
    pub moderator: Option<Outcome>,
}

/// Replays every submission through `policy` twice, without and with the site-learned model as
/// it stood just before the submission (folded from the log alongside, so a comment is never
/// screened with a decision made after it arrived).
pub async fn replay_learned(
    store: &dyn EventStore,
    policy: &crate::policy::Policy,
) -> Result<Vec<LearnedReplay>, StoreError> {
    let mut out: Vec<LearnedReplay> = Vec::new();
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    fold_log(store, |proj, id, event| {
        if let DomainEvent::CommentSubmitted(s) = &event {
            let history = history_before(proj, s);
            let client_ip: Option<IpAddr> =
                s.client.ip.split('/').next().and_then(|ip| ip.parse().ok());
            let input = super::screen_input(s, client_ip, None, Some(history));
            index.insert(s.comment_id, out.len());
            out.push(LearnedReplay {
                id: s.comment_id.to_string(),
                without: policy.screen(&input).outcome,
                with: policy.screen_with(&input, Some(&proj.learned)).outcome,
                moderator: None,
            });
        } else if let (Some(i), Some(o)) =
            (id.and_then(|id| index.get(&id)), moderator_outcome(event))
        {
            out[*i].moderator = Some(o);
        }
    })
    .await?;
    Ok(out)
}

/// What a moderator's decision says the outcome should have been.
fn moderator_outcome(e: &DomainEvent) -> Option<Outcome> {
    let (by, outcome) = match e {
        DomainEvent::CommentApproved { by, .. } | DomainEvent::CommentMarkedNotSpam { by, .. } => {
            (by, Outcome::Accept)
        }
        DomainEvent::CommentRejected { by, .. } | DomainEvent::CommentDeleted { by, .. } => {
            (by, Outcome::Reject)
        }
        DomainEvent::CommentMarkedSpam { by, .. } => (by, Outcome::Spam),
        _ => return None,
    };
    matches!(by, Actor::Moderator(_)).then_some(outcome)
}

/// Reads every submission in the log, oldest first.
pub async fn load(store: &dyn EventStore) -> Result<Vec<StoredSubmission>, StoreError> {
    let mut subs: Vec<StoredSubmission> = Vec::new();
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    fold_log(store, |proj, id, event| match event {
        DomainEvent::CommentSubmitted(s) => {
            let history = history_before(proj, s);
            index.insert(s.comment_id, subs.len());
            subs.push(StoredSubmission {
                id: s.comment_id.to_string(),
                submission: s.clone(),
                history,
                recorded: Outcome::Accept,
                moderator: None,
            });
        }
        DomainEvent::CommentScreened { verdict, .. } => {
            if let Some(i) = id.and_then(|id| index.get(&id)) {
                subs[*i].recorded = verdict.outcome;
            }
        }
        other => {
            if let (Some(i), Some(o)) = (id.and_then(|id| index.get(&id)), moderator_outcome(other))
            {
                subs[*i].moderator = Some(o);
            }
        }
    })
    .await?;
    Ok(subs)
}

/// Walks the whole log oldest first, showing `visit` each decoded event with the projections as
/// they stood just before it (so a submission is judged by what was known when it arrived).
async fn fold_log(
    store: &dyn EventStore,
    mut visit: impl FnMut(&Projections, Option<Uuid>, &DomainEvent),
) -> Result<(), StoreError> {
    let mut proj = Projections::default();
    let mut from = 1;
    loop {
        let batch = store.read_all(from, 4096).await?;
        let Some(last) = batch.last() else { break };
        from = last.position + 1;
        for r in &batch {
            let Some(event) = super::codec::decode_recorded(r) else {
                continue;
            };
            visit(
                &proj,
                crate::domain::comment::id_from_stream(&r.stream),
                &event,
            );
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
    Ok(())
}

/// The author's history as the projections knew it before `s` was submitted.
fn history_before(proj: &Projections, s: &Submission) -> History {
    proj.authors.history(
        &s.author_email,
        &s.client.ip,
        s.author_url.as_deref(),
        crate::policy::body_fingerprint(&s.body),
        &s.thread,
        s.submitted_at,
    )
}
