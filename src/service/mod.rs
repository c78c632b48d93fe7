//! The application service: the I/O shell around the domain. It loads a stream, folds it,
//! asks the decider, appends with the expected revision and waits for the projections, so the
//! HTTP layer only translates requests and answers.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use uuid::Uuid;

use crate::captcha::{BurnedTokens, Captcha, CaptchaError, Challenge};
use crate::config::ThreadSettings;
use crate::domain::comment::{self, CommentCommand, CommentError, CommentState, SubmitContext};
use crate::domain::input::{self, FieldErrors, RawSubmission};
use crate::domain::thread::{self, ThreadCommand, ThreadError, ThreadState};
use crate::domain::{
    ClientFacts, CommentStatus, DomainEvent, ModeratorAction, POLICY_STREAM, Submission,
    comment_stream, thread_stream,
};
use crate::i18n::Lang;
use crate::limits::{Limiters, RateLimited};
use crate::policy::{Outcome, Policy, PolicyHandle, ScreenInput, Verdict};
use crate::projections::{CommentRecord, PublicComment};
use crate::store::{
    EventMetadata, EventStore, ExpectedRevision, NewEvent, RecordedEvent, StoreError,
};

pub mod backtest;
pub mod runner;
pub mod view;

pub use view::View;

/// How long a write waits for the projections to include it before answering anyway.
const READ_YOUR_WRITES: Duration = Duration::from_secs(5);
/// Events of one comment stream read at most (a comment has a handful; reports are bounded by it).
const MAX_STREAM_EVENTS: usize = 10_000;

/// A reader's submission as the HTTP layer received it.
#[derive(Debug, Clone)]
pub struct SubmitRequest {
    /// Thread key from the path or the form.
    pub thread: String,
    /// Display name.
    pub author_name: String,
    /// Email.
    pub author_email: String,
    /// Website.
    pub author_url: String,
    /// Comment text.
    pub body: String,
    /// Parent comment id as sent (may be empty or "0").
    pub parent_id: String,
    /// The captcha token.
    pub captcha_token: String,
    /// The reader's answer.
    pub captcha_answer: String,
    /// The hidden honeypot field.
    pub honeypot: String,
    /// The client address.
    pub client_ip: IpAddr,
    /// The `User-Agent`.
    pub user_agent: Option<String>,
    /// The reader's language.
    pub lang: Lang,
}

/// The answer to an accepted submission.
#[derive(Debug, Clone, Serialize)]
pub struct SubmitOutcome {
    /// The new comment's id.
    pub id: Uuid,
    /// `published`, `pending` or `spam`.
    pub status: &'static str,
    /// The comment as rendered for its author (marked pending unless published).
    pub comment: PublicComment,
}

/// Why a submission was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Input rules failed (422).
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The captcha failed (403); carries a fresh challenge.
    #[error("captcha failed: {error}")]
    Captcha {
        /// Why.
        error: CaptchaError,
        /// A new challenge so the reader keeps their text.
        fresh: Box<Challenge>,
    },
    /// The token was used before (409); carries a fresh challenge.
    #[error("captcha token already used")]
    Replayed {
        /// A new challenge.
        fresh: Box<Challenge>,
    },
    /// A rate limit refused it (429).
    #[error("rate limited")]
    RateLimited(RateLimited),
    /// The thread is closed (409).
    #[error("thread closed")]
    ThreadClosed,
    /// The filter refused it outright (422); recorded for the audit.
    #[error("rejected by the filter")]
    Rejected {
        /// The recorded comment id.
        id: Uuid,
    },
    /// The store failed (500, logged).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a moderator decision was not applied.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// No such comment (404).
    #[error("no such comment")]
    NotFound,
    /// Someone decided first (409); carries the current state.
    #[error("stale version")]
    Stale(Box<ModeratorView>),
    /// The transition is illegal (409).
    #[error(transparent)]
    Illegal(CommentError),
    /// Reader report refused (409 or 404).
    #[error(transparent)]
    Flag(CommentError),
    /// Thread command refused (409).
    #[error(transparent)]
    Thread(ThreadError),
    /// The store failed (500).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One entry of a comment's history, for moderators.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// Stream revision.
    pub version: u64,
    /// Event type.
    pub event: String,
    /// Actor label.
    pub actor: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Reason, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A comment with its private fields, verdict and history: what moderators see.
#[derive(Debug, Clone, Serialize)]
pub struct ModeratorView {
    /// Comment id.
    pub id: Uuid,
    /// Thread key.
    pub thread: String,
    /// Parent id.
    pub parent_id: Option<Uuid>,
    /// Current status.
    pub status: &'static str,
    /// Version to send back as `expected_version`.
    pub version: u64,
    /// Display name.
    pub author_name: String,
    /// Private email.
    pub author_email: String,
    /// Website.
    pub author_url: Option<String>,
    /// Private client address.
    pub client_ip: String,
    /// Private user agent.
    pub user_agent: Option<String>,
    /// The text as typed.
    pub body: String,
    /// The text as rendered.
    pub body_html: String,
    /// Submission time.
    pub created_at: DateTime<Utc>,
    /// Captcha solve time.
    pub captcha_solve_ms: u64,
    /// The filter's verdict with matched rules and policy version.
    pub verdict: Option<Verdict>,
    /// Reader reports.
    pub reports: usize,
    /// Every event of the comment.
    pub history: Vec<HistoryEntry>,
}

/// The comment service.
pub struct Service {
    store: Arc<dyn EventStore>,
    view: Arc<View>,
    policy: Arc<PolicyHandle>,
    captcha: Captcha,
    limits: Option<Limiters>,
    threads: ThreadSettings,
    /// Tokens that met a wrong answer, until they expire: a wrong answer burns the token, so
    /// guessing through 0..100 with one token does not work.
    burned: BurnedTokens,
    reporter_key: [u8; 32],
}

impl Service {
    /// Builds the service.
    pub fn new(
        store: Arc<dyn EventStore>,
        view: Arc<View>,
        policy: Arc<PolicyHandle>,
        captcha: Captcha,
        limits: Option<Limiters>,
        threads: ThreadSettings,
        reporter_key: [u8; 32],
    ) -> Service {
        Service {
            store,
            view,
            policy,
            captcha,
            limits,
            threads,
            burned: BurnedTokens::default(),
            reporter_key,
        }
    }

    /// The read side.
    pub fn view(&self) -> &Arc<View> {
        &self.view
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The policy handle (for reloads).
    pub fn policy(&self) -> &Arc<PolicyHandle> {
        &self.policy
    }

    /// Forgets expired burned tokens and idle rate-limit keys; called on a timer.
    pub fn prune(&self) {
        self.burned.purge(Utc::now());
        if let Some(l) = &self.limits {
            l.retain_recent();
            l.record_metrics();
        }
    }

    /// The rate limiters, if enabled.
    pub fn limits(&self) -> Option<&Limiters> {
        self.limits.as_ref()
    }

    /// Thread settings.
    pub fn thread_settings(&self) -> &ThreadSettings {
        &self.threads
    }

    /// Issues a captcha challenge, subject to the per-address limit.
    pub fn issue_captcha(
        &self,
        ip: IpAddr,
        thread: Option<&str>,
        lang: Lang,
    ) -> Result<Challenge, RateLimited> {
        if let Some(l) = &self.limits {
            l.check_captcha(ip)?;
        }
        metrics::counter!("saring_captchas_issued_total").increment(1);
        Ok(self.fresh_challenge(thread, lang))
    }

    fn fresh_challenge(&self, thread: Option<&str>, lang: Lang) -> Challenge {
        self.captcha
            .issue(Utc::now(), thread, lang, &mut rand::rng())
    }

    /// The full reader flow: input rules, captcha, rate limits, screening, decide, append.
    pub async fn submit(&self, req: SubmitRequest) -> Result<SubmitOutcome, SubmitError> {
        let lang = req.lang;
        let refuse = |reason: &'static str| {
            metrics::counter!("saring_submissions_refused_total", "reason" => reason).increment(1)
        };
        let validated = input::validate(&RawSubmission {
            author_name: &req.author_name,
            author_email: &req.author_email,
            author_url: &req.author_url,
            body: &req.body,
        });
        let (clean, mut errors) = match validated {
            Ok(clean) => (Some(clean), FieldErrors::default()),
            Err(errors) => (None, errors),
        };
        if !input::is_valid_thread_key(&req.thread) {
            errors.add("thread", input::FieldProblem::InvalidThreadKey);
        }
        let parent_raw = req.parent_id.trim();
        let parent_id = if parent_raw.is_empty() || parent_raw == "0" {
            None
        } else {
            Uuid::parse_str(parent_raw)
                .map_err(|_| errors.add("parent_id", input::FieldProblem::InvalidId))
                .ok()
        };
        let clean = match clean {
            Some(clean) if errors.is_empty() => clean,
            _ => {
                refuse("invalid");
                return Err(SubmitError::Invalid(errors));
            }
        };

        let now = Utc::now();
        let thread_for_challenge = Some(req.thread.as_str());
        let solved = match self
            .captcha
            .verify_and_burn(
                &req.captcha_token,
                &req.captcha_answer,
                &req.thread,
                now,
                &self.burned,
            )
            .await
        {
            Ok(solved) => solved,
            Err(error) => {
                refuse("captcha");
                return Err(SubmitError::Captcha {
                    error,
                    fresh: Box::new(self.fresh_challenge(thread_for_challenge, lang)),
                });
            }
        };
        let comment_id = solved.comment_id();
        // A replay is answered as one before it can eat the reader's rate allowance; the
        // append's "no stream" expectation below stays the real guarantee across replicas.
        if self.view.read(|p| p.comments.contains_key(&comment_id)) {
            refuse("replayed");
            return Err(SubmitError::Replayed {
                fresh: Box::new(self.fresh_challenge(thread_for_challenge, lang)),
            });
        }
        if let Some(l) = &self.limits
            && let Err(limited) = l.check_comment(req.client_ip, &clean.author_email, &req.thread)
        {
            refuse("rate_limited");
            return Err(SubmitError::RateLimited(limited));
        }

        let ip_key = crate::limits::address_group(req.client_ip).to_string();
        let submission = Submission {
            comment_id,
            thread: req.thread.clone(),
            parent_id,
            author_name: clean.author_name,
            author_email: clean.author_email,
            author_url: clean.author_url,
            body: clean.body,
            client: ClientFacts {
                ip: ip_key.clone(),
                user_agent: req.user_agent.clone(),
            },
            captcha_solve_ms: solved.solve_time_ms,
            lang,
            submitted_at: now,
        };
        let policy = self.policy.current();
        let fingerprint = crate::policy::body_fingerprint(&submission.body);
        let (history, context) = self.view.read(|p| {
            let history = p.authors.history(
                &submission.author_email,
                &ip_key,
                submission.author_url.as_deref(),
                fingerprint,
                &submission.thread,
                now,
            );
            let context = SubmitContext {
                thread_closed: p.is_closed(&submission.thread),
                parent: parent_id.and_then(|id| p.parent_facts(id)),
            };
            (history, context)
        });
        let verdict = policy.screen(&screen_input(
            &submission,
            Some(req.client_ip),
            Some(&req.honeypot),
            Some(history),
        ));
        metrics::counter!("saring_screened_total", "outcome" => outcome_label(verdict.outcome))
            .increment(1);
        let outcome = verdict.outcome;
        let events = match comment::decide(
            &CommentState::default(),
            CommentCommand::Submit {
                submission: Box::new(submission),
                verdict: Box::new(verdict),
                fingerprint,
                context,
            },
        ) {
            Ok(events) => events,
            Err(CommentError::ThreadClosed) => return Err(SubmitError::ThreadClosed),
            Err(CommentError::ParentNotVisible | CommentError::ParentInOtherThread) => {
                let mut e = FieldErrors::default();
                e.add("parent_id", input::FieldProblem::InvalidId);
                return Err(SubmitError::Invalid(e));
            }
            Err(_) => {
                return Err(SubmitError::Replayed {
                    fresh: Box::new(self.fresh_challenge(thread_for_challenge, lang)),
                });
            }
        };
        let stream = comment_stream(comment_id);
        let written = match self
            .append(&stream, ExpectedRevision::NoStream, events, None)
            .await
        {
            Ok(w) => w,
            Err(e) if e.is_conflict() => {
                refuse("replayed");
                return Err(SubmitError::Replayed {
                    fresh: Box::new(self.fresh_challenge(thread_for_challenge, lang)),
                });
            }
            Err(e) => return Err(e.into()),
        };
        metrics::counter!("saring_comments_stored_total").increment(1);
        self.view.wait_for(written, READ_YOUR_WRITES).await;
        if outcome == Outcome::Reject {
            return Err(SubmitError::Rejected { id: comment_id });
        }
        let comment = self
            .view
            .read(|p| p.comments.get(&comment_id).map(PublicComment::from_record))
            .ok_or_else(|| {
                StoreError::Backend(
                    "the stored comment did not reach the projections in time".into(),
                )
            })?;
        let status = match outcome {
            Outcome::Accept => "published",
            Outcome::Hold => "pending",
            _ => "spam",
        };
        Ok(SubmitOutcome {
            id: comment_id,
            status,
            comment,
        })
    }

    async fn append(
        &self,
        stream: &str,
        expected: ExpectedRevision,
        events: Vec<DomainEvent>,
        correlation: Option<Uuid>,
    ) -> Result<u64, StoreError> {
        let correlation_id = Some(correlation.unwrap_or_else(Uuid::new_v4));
        let new_events = events
            .into_iter()
            .map(|e| {
                let metadata = EventMetadata {
                    actor: Some(e.actor().label()),
                    correlation_id,
                    causation_id: None,
                };
                let data =
                    serde_json::to_value(&e).map_err(|err| StoreError::Invalid(err.to_string()))?;
                Ok(NewEvent::new(e.event_type(), data).with_metadata(metadata))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(self
            .store
            .append(stream, expected, new_events)
            .await?
            .position)
    }

    async fn load_comment(
        &self,
        id: Uuid,
    ) -> Result<(CommentState, Vec<RecordedEvent>), StoreError> {
        let recorded = self
            .store
            .read_stream(&comment_stream(id), 0, MAX_STREAM_EVENTS)
            .await?;
        let state = recorded
            .iter()
            .filter_map(|r| DomainEvent::from_json(&r.data))
            .fold(CommentState::default(), |s, e| comment::evolve(s, &e));
        Ok((state, recorded))
    }

    /// A comment with everything moderators need.
    pub async fn moderator_view(&self, id: Uuid) -> Result<Option<ModeratorView>, StoreError> {
        let (state, recorded) = self.load_comment(id).await?;
        Ok(moderator_view(&state, &recorded))
    }

    /// Applies a moderator decision if the comment is still at `expected_version`.
    pub async fn decide(
        &self,
        id: Uuid,
        action: ModeratorAction,
        moderator: &str,
        reason: &str,
        expected_version: u64,
    ) -> Result<ModeratorView, DecisionError> {
        let (state, recorded) = self.load_comment(id).await?;
        let current = moderator_view(&state, &recorded).ok_or(DecisionError::NotFound)?;
        if state.version() != Some(expected_version) {
            return Err(DecisionError::Stale(Box::new(current)));
        }
        let events = comment::decide(
            &state,
            CommentCommand::Decide {
                action,
                moderator: moderator.to_string(),
                reason: reason.chars().take(input::MAX_REASON_CHARS).collect(),
                now: Utc::now(),
            },
        )
        .map_err(DecisionError::Illegal)?;
        match self
            .append(
                &comment_stream(id),
                ExpectedRevision::Exact(expected_version),
                events,
                None,
            )
            .await
        {
            Ok(pos) => {
                metrics::counter!("saring_decisions_total", "action" => action_label(action))
                    .increment(1);
                self.view.wait_for(pos, READ_YOUR_WRITES).await;
            }
            Err(e) if e.is_conflict() => {
                let (state, recorded) = self.load_comment(id).await?;
                let current = moderator_view(&state, &recorded).ok_or(DecisionError::NotFound)?;
                return Err(DecisionError::Stale(Box::new(current)));
            }
            Err(e) => return Err(e.into()),
        }
        let (state, recorded) = self.load_comment(id).await?;
        moderator_view(&state, &recorded).ok_or(DecisionError::NotFound)
    }

    /// A reader report: one per reader (by address) per comment.
    pub async fn flag(
        &self,
        id: Uuid,
        client_ip: IpAddr,
        reason: &str,
    ) -> Result<(), DecisionError> {
        let reporter = self.reporter_id(client_ip);
        for _ in 0..5 {
            let (state, _) = self.load_comment(id).await?;
            let Some(version) = state.version() else {
                return Err(DecisionError::NotFound);
            };
            let events = comment::decide(
                &state,
                CommentCommand::Flag {
                    reporter: reporter.clone(),
                    reason: reason.chars().take(input::MAX_REASON_CHARS).collect(),
                    threshold: self.threads.flag_threshold,
                    now: Utc::now(),
                },
            )
            .map_err(DecisionError::Flag)?;
            match self
                .append(
                    &comment_stream(id),
                    ExpectedRevision::Exact(version),
                    events,
                    None,
                )
                .await
            {
                Ok(pos) => {
                    self.view.wait_for(pos, READ_YOUR_WRITES).await;
                    return Ok(());
                }
                Err(e) if e.is_conflict() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Backend("too many concurrent changes to this comment".into()).into())
    }

    /// A private, stable id of a reporter: an HMAC of their address group, so the log never
    /// holds a reporter's address.
    fn reporter_id(&self, ip: IpAddr) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.reporter_key)
            .expect("HMAC takes any key length");
        mac.update(crate::limits::address_group(ip).to_string().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..12])
    }

    /// Closes (`close = true`) or reopens a thread.
    pub async fn set_thread_closed(
        &self,
        key: &str,
        close: bool,
        moderator: &str,
    ) -> Result<(), DecisionError> {
        let stream = thread_stream(key);
        let recorded = self
            .store
            .read_stream(&stream, 0, MAX_STREAM_EVENTS)
            .await?;
        let state = recorded
            .iter()
            .filter_map(|r| DomainEvent::from_json(&r.data))
            .fold(ThreadState::default(), |s, e| thread::evolve(s, &e));
        let (thread, moderator, now) = (key.to_string(), moderator.to_string(), Utc::now());
        let command = if close {
            ThreadCommand::Close {
                thread,
                moderator,
                now,
            }
        } else {
            ThreadCommand::Reopen {
                thread,
                moderator,
                now,
            }
        };
        let events = thread::decide(&state, command).map_err(DecisionError::Thread)?;
        let expected = match recorded.last() {
            Some(last) => ExpectedRevision::Exact(last.revision),
            None => ExpectedRevision::NoStream,
        };
        let pos = self
            .append(&stream, expected, events, None)
            .await
            .map_err(|e| {
                if e.is_conflict() {
                    DecisionError::Thread(if close {
                        ThreadError::AlreadyClosed
                    } else {
                        ThreadError::NotClosed
                    })
                } else {
                    e.into()
                }
            })?;
        self.view.wait_for(pos, READ_YOUR_WRITES).await;
        Ok(())
    }

    /// Records the policy in force, unless the log already says so.
    pub async fn record_policy(&self, policy: &Policy) -> Result<(), StoreError> {
        if self
            .view
            .read(|p| p.policy_version.as_deref() == Some(policy.version()))
        {
            return Ok(());
        }
        let summary = serde_json::to_value(policy.summary()).unwrap_or_default();
        let event = DomainEvent::PolicyActivated {
            version: policy.version().to_string(),
            summary,
            at: Utc::now(),
        };
        let pos = self
            .append(POLICY_STREAM, ExpectedRevision::Any, vec![event], None)
            .await?;
        self.view.wait_for(pos, READ_YOUR_WRITES).await;
        Ok(())
    }
}

/// What the policy engine sees of a stored or arriving submission (shared with the backtest).
pub fn screen_input<'a>(
    s: &'a Submission,
    client_ip: Option<IpAddr>,
    honeypot: Option<&'a str>,
    history: Option<crate::policy::History>,
) -> ScreenInput<'a> {
    ScreenInput {
        body: &s.body,
        author_name: &s.author_name,
        author_email: &s.author_email,
        author_url: s.author_url.as_deref(),
        client_ip,
        user_agent: s.client.user_agent.as_deref(),
        honeypot,
        solve_time_ms: Some(s.captcha_solve_ms),
        history,
    }
}

fn outcome_label(o: Outcome) -> &'static str {
    match o {
        Outcome::Accept => "accept",
        Outcome::Hold => "hold",
        Outcome::Spam => "spam",
        Outcome::Reject => "reject",
    }
}

fn action_label(a: ModeratorAction) -> &'static str {
    match a {
        ModeratorAction::Approve => "approve",
        ModeratorAction::Reject => "reject",
        ModeratorAction::Spam => "spam",
        ModeratorAction::NotSpam => "not_spam",
        ModeratorAction::Delete => "delete",
        ModeratorAction::Restore => "restore",
    }
}

fn moderator_view(state: &CommentState, recorded: &[RecordedEvent]) -> Option<ModeratorView> {
    let s = state.submission.as_ref()?;
    let history = recorded
        .iter()
        .map(|r| {
            let reason = r
                .data
                .get("reason")
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(String::from);
            HistoryEntry {
                version: r.revision,
                event: r.event_type.clone(),
                actor: r.metadata.actor.clone().unwrap_or_else(|| "system".into()),
                at: r.recorded_at,
                reason,
            }
        })
        .collect();
    Some(ModeratorView {
        id: s.comment_id,
        thread: s.thread.clone(),
        parent_id: s.parent_id,
        status: state.status.map_or("pending", CommentStatus::as_str),
        version: state.version().unwrap_or(0),
        author_name: s.author_name.clone(),
        author_email: s.author_email.clone(),
        author_url: s.author_url.clone(),
        client_ip: s.client.ip.clone(),
        user_agent: s.client.user_agent.clone(),
        body: s.body.clone(),
        body_html: crate::projections::render::body_html(&s.body),
        created_at: s.submitted_at,
        captcha_solve_ms: s.captcha_solve_ms,
        verdict: state.verdict.clone(),
        reports: state.reporters.len(),
        history,
    })
}

/// A queue entry for moderators (from the projections, no store read).
#[derive(Debug, Clone, Serialize)]
pub struct QueueItem {
    /// Comment id.
    pub id: Uuid,
    /// Thread key.
    pub thread: String,
    /// Current status.
    pub status: &'static str,
    /// Display name.
    pub author_name: String,
    /// Private email.
    pub author_email: String,
    /// The body as safe HTML.
    pub body_html: String,
    /// Submission time.
    pub created_at: DateTime<Utc>,
    /// The filter's score.
    pub score: f64,
    /// Reader reports.
    pub reports: u32,
    /// Version to send back as `expected_version`.
    pub version: u64,
}

impl From<&CommentRecord> for QueueItem {
    fn from(r: &CommentRecord) -> Self {
        QueueItem {
            id: r.id,
            thread: r.thread.clone(),
            status: r.status.map_or("pending", CommentStatus::as_str),
            author_name: r.author_name.clone(),
            author_email: r.author_email.clone(),
            body_html: r.body_html.clone(),
            created_at: r.created_at,
            score: r.score,
            reports: r.reports,
            version: r.version,
        }
    }
}
