//! The application service: the I/O around the domain. Every command runs through the one
//! command path in [`shell`] (load, fold, decide, append at the last recorded revision, wait for
//! the projections); this module prepares the commands (input rules, captcha, rate limits,
//! screening) and names their refusals, so the HTTP layer only translates requests and answers.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use uuid::Uuid;

use crate::captcha::{Attempt, BurnedTokens, Captcha, CaptchaError, Challenge, Passed, Solved};
use crate::config::ThreadSettings;
use crate::domain::comment::{self, CommentCommand, CommentError, CommentState, SubmitContext};
use crate::domain::input::{self, FieldErrors, RawSubmission};
use crate::domain::thread::{self, ThreadCommand, ThreadError};
use crate::domain::values::{AddressGroup, CommentId, ThreadKey};
use crate::domain::{
    ClientFacts, CommentStatus, DomainEvent, ModeratorAction, POLICY_STREAM, Submission,
    comment_stream, thread_stream,
};
use crate::i18n::Lang;
use crate::known_reader::ReaderCheck;
use crate::limits::{Admission, HoldReason, Limiters, RateLimited};
use crate::policy::{Outcome, Policy, PolicyHandle, ScreenInput, Verdict};
use crate::projections::{CommentRecord, PublicComment};
use crate::store::{EventStore, StoreError};

pub mod audit;
pub mod backtest;
pub mod bans;
pub mod bulk_build;
pub mod codec;
pub mod descriptions;
pub mod hold_rules;
pub mod premoderation;
pub mod projections_cli;
pub mod read_pool;
pub mod runner;
pub mod shell;
pub mod view;
pub mod waves;
pub mod webhooks;

pub use shell::{CommandError, CommandKind, Loaded, Shell, StoreFailure};
pub use view::View;

/// A reader's submission as the HTTP layer received it.
#[derive(Debug, Clone)]
pub struct SubmitRequest {
    /// Thread key from the path or the form, parsed there.
    pub thread: ThreadKey,
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
    /// The reader's answer (empty when the sum was skipped or not asked).
    pub captcha_answer: String,
    /// The proof-of-work stamp (empty without JavaScript).
    pub captcha_pow: String,
    /// Whether it came through the plain no-JavaScript form, which need not carry the stamp.
    pub via_form: bool,
    /// The known-reader token the widget kept from an earlier published comment (empty when
    /// none; the plain form has none).
    pub reader_token: String,
    /// The hidden honeypot field.
    pub honeypot: String,
    /// The client address.
    pub client_ip: IpAddr,
    /// The `User-Agent`.
    pub user_agent: Option<String>,
    /// The reader's language.
    pub lang: Lang,
}

/// The answer to an accepted submission (the `201` body, whose OpenAPI schema `Created` is
/// derived from this type).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Created)]
pub struct SubmitOutcome {
    /// The new comment's id.
    #[schema(value_type = String)]
    pub id: Uuid,
    /// `published` or `pending` ("awaiting moderation"): the service's `spam` is answered as
    /// `pending`, so the answer is no oracle for tuning spam.
    #[schema(value_type = String)]
    pub status: CommentStatus,
    /// The comment as rendered for its author (marked pending unless published).
    pub comment: PublicComment,
    /// A fresh known-reader token for the author's email, when the comment was published and
    /// the email is new here or its token was shown ([`crate::known_reader`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reader_token: Option<String>,
    /// For a comment not published: the claim to trade for a token once a moderator approves it
    /// (`POST /api/v1/reader-token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reader_claim: Option<String>,
}

/// Why a submission was not accepted (the answer, not a failure).
#[derive(Debug, thiserror::Error)]
pub enum SubmitRefusal {
    /// Input rules failed (422).
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The captcha failed (403); carries a fresh challenge.
    #[error("captcha failed")]
    Captcha {
        /// Why.
        #[source]
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
    /// A ban in force names the author or the address (answered as a filter reject, so the
    /// reader learns nothing about the ban); not recorded.
    #[error("banned")]
    Banned,
    /// The filter refused it outright (422); recorded for the audit.
    #[error("rejected by the filter")]
    Rejected {
        /// The recorded comment id.
        id: Uuid,
    },
}

impl SubmitRefusal {
    /// The `reason` label of `saring_submissions_refused_total`; `None` for a comment that was
    /// stored (a filter reject is recorded, not refused).
    fn metric_reason(&self) -> Option<&'static str> {
        match self {
            SubmitRefusal::Invalid(_) => Some("invalid"),
            SubmitRefusal::Captcha { .. } => Some("captcha"),
            SubmitRefusal::Replayed { .. } => Some("replayed"),
            SubmitRefusal::RateLimited(_) => Some("rate_limited"),
            SubmitRefusal::ThreadClosed => Some("thread_closed"),
            SubmitRefusal::Banned => Some("banned"),
            SubmitRefusal::Rejected { .. } => None,
        }
    }
}

/// A submission that did not go through.
pub type SubmitError = CommandError<SubmitRefusal>;

/// Why a moderator decision, a reader report or a thread command was not applied.
#[derive(Debug, thiserror::Error)]
pub enum DecisionRefusal {
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
    /// Too many reports from this address (429).
    #[error("rate limited")]
    RateLimited(RateLimited),
    /// Thread command refused (409).
    #[error(transparent)]
    Thread(ThreadError),
}

/// A decision, report or thread command that did not go through.
pub type DecisionError = CommandError<DecisionRefusal>;

/// The answer to an applied moderator decision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Decided)]
pub struct DecisionOutcome {
    /// The comment.
    #[schema(value_type = String)]
    pub id: Uuid,
    /// Its status now.
    #[schema(value_type = String)]
    pub status: CommentStatus,
    /// Its version now, for the next `expected_version`.
    pub version: u64,
}

/// One entry of a comment's history, for moderators.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = CommentHistoryEntry)]
pub struct HistoryEntry {
    /// Stream revision.
    pub version: u64,
    /// Event type.
    pub event: String,
    /// Actor label.
    pub actor: String,
    /// When it was recorded.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// Reason, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A comment with its private fields, verdict and history: what moderators see.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ModeratorComment)]
pub struct ModeratorView {
    /// Comment id.
    #[schema(value_type = String)]
    pub id: Uuid,
    /// Thread key.
    pub thread: String,
    /// Parent id.
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Uuid>,
    /// Current status.
    #[schema(value_type = String)]
    pub status: CommentStatus,
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
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Captcha solve time.
    pub captcha_solve_ms: u64,
    /// The filter's verdict with matched rules and policy version.
    #[schema(value_type = Option<Object>)]
    pub verdict: Option<Verdict>,
    /// Reader reports stored (at most [`comment::MAX_STORED_REPORTS`]).
    pub reports: usize,
    /// Whether `reports` reached the cap: later reports are counted only in a metric, so show it
    /// as "100+".
    pub reports_capped: bool,
    /// Every event of the comment.
    pub history: Vec<HistoryEntry>,
}

/// The comment service.
pub struct Service {
    store: Arc<dyn EventStore>,
    shell: Shell,
    view: Arc<View>,
    policy: Arc<PolicyHandle>,
    captcha: Captcha,
    limits: Option<Limiters>,
    threads: ThreadSettings,
    /// Tokens that met a wrong answer, until they expire: a wrong answer burns the token, so
    /// guessing through 0..100 with one token does not work.
    burned: BurnedTokens,
    reporter_key: [u8; 32],
    /// Recent comments per address group, thread and site, which raise the proof of work.
    risk: crate::pow::RiskMeter,
    /// Whether screening reads what the site's moderators taught.
    learn: bool,
    /// The bans in force (see [`bans`]).
    bans: bans::Bans,
    /// Threads whose new comments are all held (see [`premoderation`]).
    premoderated: premoderation::Premoderated,
    /// The recent moderator actions (see [`audit`]).
    audit: audit::Audit,
    /// Messages to the newsroom when comments wait (see [`webhooks`]).
    webhooks: webhooks::Webhooks,
    /// Spam waves (see [`waves`]).
    waves: waves::Waves,
    /// Rule descriptions of older policy versions (see [`descriptions`]).
    descriptions: descriptions::Descriptions,
    /// The threads that screen posts: few and fixed, since each keeps its own regex caches
    /// (see [`read_pool`]).
    screening: read_pool::ReadPool,
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
            shell: Shell::new(store.clone(), view.clone()),
            store,
            view,
            policy,
            captcha,
            limits,
            threads,
            burned: BurnedTokens::default(),
            reporter_key,
            risk: crate::pow::RiskMeter::default(),
            learn: learn_from_moderators(),
            bans: bans::Bans::default(),
            premoderated: premoderation::Premoderated::default(),
            audit: audit::Audit::default(),
            webhooks: webhooks::Webhooks::off(),
            waves: waves::Waves::default(),
            descriptions: descriptions::Descriptions::default(),
            screening: read_pool::ReadPool::new(SCREENING_THREADS),
        }
    }

    /// The service sending webhooks through `hooks`.
    pub fn with_webhooks(mut self, hooks: webhooks::Webhooks) -> Service {
        self.webhooks = hooks;
        self
    }

    /// The service with site learning on or off (`[policy] learn`, `SARING_LEARN`).
    pub fn with_learning(mut self, on: bool) -> Service {
        self.learn = on;
        self
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
        self.risk.purge(Utc::now());
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
    pub async fn issue_captcha(
        &self,
        ip: IpAddr,
        thread: Option<&ThreadKey>,
        lang: Lang,
    ) -> Result<Challenge, RateLimited> {
        if let Some(l) = &self.limits {
            l.check_captcha(ip)?;
        }
        metrics::counter!("saring_captchas_issued_total").increment(1);
        Ok(self
            .fresh_challenge(ip, thread.map(ThreadKey::as_str), lang)
            .await)
    }

    /// A challenge whose proof of work follows the risk of `ip`'s address group and `thread`.
    async fn fresh_challenge(&self, ip: IpAddr, thread: Option<&str>, lang: Lang) -> Challenge {
        let group = crate::limits::address_group(ip).to_string();
        // On the read pool (a file read). A failed read (logged and counted) raises the work as
        // an address with spam would, never lowers it to an unknown address's: the post itself
        // then meets the same failed read and is refused `503` before anything is stored.
        let key = group.clone();
        let address_spam = self
            .view
            .query(move |p| p.address_spam(&key))
            .await
            .unwrap_or(1);
        let now = Utc::now();
        let signals = self
            .risk
            .signals(&group, thread.unwrap_or(""), address_spam, now);
        let difficulty = self.captcha.config().pow.difficulty_for(&signals);
        metrics::histogram!("saring_captcha_pow_difficulty").record(f64::from(difficulty.sum));
        self.captcha
            .issue_at(now, thread, lang, difficulty, &mut rand::rng())
    }

    /// The full reader flow as a pipeline: input rules, captcha, replay, rate limits, screening,
    /// then the comment's creation through the command shell.
    pub async fn submit(&self, req: SubmitRequest) -> Result<SubmitOutcome, SubmitError> {
        let result = self.submit_steps(&req).await;
        if let Err(CommandError::Refused(refusal)) = &result
            && let Some(reason) = refusal.metric_reason()
        {
            metrics::counter!("saring_submissions_refused_total", "reason" => reason).increment(1);
        }
        result
    }

    async fn submit_steps(&self, req: &SubmitRequest) -> Result<SubmitOutcome, SubmitError> {
        let (clean, parent_id) = check_input(req).map_err(CommandError::Refused)?;
        let now = Utc::now();
        if self
            .closed_by_age(req.thread.as_str(), now)
            .await
            .map_err(projections_unavailable)?
        {
            return Err(CommandError::Refused(SubmitRefusal::ThreadClosed));
        }
        let solved = self.solve_captcha(req, now).await?;
        let check =
            self.captcha
                .known_readers()
                .check(&req.reader_token, clean.author_email.as_str(), now);
        let label = match check {
            ReaderCheck::Valid => "valid",
            ReaderCheck::Missing => "missing",
            ReaderCheck::Invalid => "invalid",
        };
        metrics::counter!("saring_known_reader_tokens_total", "result" => label).increment(1);
        let known = check == ReaderCheck::Valid;
        let facts = self
            .captcha_path(req, clean.author_email.as_str(), known, &solved, now)
            .await?;
        let comment_id = solved.comment_id();
        self.refuse_known_comment(comment_id, req).await?;
        self.refuse_banned(req, &clean, now)?;
        let admission = self.check_comment_rate(req, clean.author_email.as_str())?;
        let mut submission = submission_of(req, clean, parent_id, &solved, now, comment_id);
        submission.pow = Some(facts);
        submission.known_reader = Some(known);
        let mut screened = self.screen(&submission, req).await?;
        hold_over_ceiling(&mut screened, admission);
        premoderation::hold_premoderated(&mut screened, self.is_premoderated(req.thread.as_str()));
        let wave_obs = self.wave_observation(&submission, &screened.body);
        waves::hold_in_wave(&mut screened, self.wave_to_hold(wave_obs.as_ref()));
        let outcome = screened.verdict.outcome;
        let comment = authors_copy(&submission, outcome);
        // Filter-published under an email with a record but without its token earns no token:
        // that is how a borrowed email would get one. A moderator's approval (the claim) still does.
        let readers = self.captcha.known_readers();
        let reader_token = (outcome == Outcome::Accept && (known || !screened.email_known))
            .then(|| readers.issue(&submission.author_email, now));
        let reader_claim = (outcome != Outcome::Accept).then(|| readers.claim(comment_id));
        let notice = (outcome == Outcome::Hold).then(|| {
            webhooks::Notice::new(
                webhooks::Kind::Pending,
                comment_id,
                &submission.thread,
                &submission.author_name,
                &submission.body,
            )
        });
        let started_with = wave_obs.is_some().then(|| submission.clone());
        self.create_comment(submission, screened, req).await?;
        if let Some(notice) = notice {
            self.webhooks.notify(notice);
        }
        if let (Some(obs), Some(s)) = (&wave_obs, &started_with) {
            for wave in self.observe_wave(obs) {
                metrics::counter!("saring_waves_started_total").increment(1);
                self.webhooks
                    .notify(webhooks::Notice::wave_started(&wave, s));
            }
        }
        metrics::counter!("saring_comments_stored_total").increment(1);
        if outcome == Outcome::Reject {
            return Err(CommandError::Refused(SubmitRefusal::Rejected {
                id: comment_id,
            }));
        }
        Ok(SubmitOutcome {
            id: comment_id,
            status: match outcome {
                Outcome::Accept => CommentStatus::Published,
                Outcome::Hold => CommentStatus::Pending,
                Outcome::Spam | Outcome::Reject => CommentStatus::Spam,
            },
            comment,
            reader_token,
            reader_claim,
        })
    }

    /// A refusal that hands the reader a fresh challenge, so they keep their text.
    async fn with_fresh_challenge(
        &self,
        req: &SubmitRequest,
        refusal: impl FnOnce(Box<Challenge>) -> SubmitRefusal,
    ) -> SubmitError {
        let fresh = Box::new(
            self.fresh_challenge(req.client_ip, Some(req.thread.as_str()), req.lang)
                .await,
        );
        CommandError::Refused(refusal(fresh))
    }

    async fn solve_captcha(
        &self,
        req: &SubmitRequest,
        now: DateTime<Utc>,
    ) -> Result<Solved, SubmitError> {
        let attempt = Attempt {
            token: &req.captcha_token,
            answer: &req.captcha_answer,
            stamp: &req.captcha_pow,
            thread: req.thread.as_str(),
            stamp_required: !req.via_form,
        };
        match self
            .captcha
            .verify_and_burn(&attempt, now, &self.burned)
            .await
        {
            Ok(solved) => Ok(solved),
            Err(error) => Err(self
                .with_fresh_challenge(req, |fresh| SubmitRefusal::Captcha { error, fresh })
                .await),
        }
    }

    /// The way the reader came past the captcha; an unanswered token passes only for a trusted
    /// author (`403 captcha_unanswered` otherwise). Counts the comment into the risk signals.
    async fn captcha_path(
        &self,
        req: &SubmitRequest,
        email: &str,
        known_reader: bool,
        solved: &Solved,
        now: DateTime<Utc>,
    ) -> Result<crate::pow::PowFacts, SubmitError> {
        use crate::pow::CaptchaPath;
        let group = crate::limits::address_group(req.client_ip).to_string();
        let path = match solved.passed {
            Passed::Sum if req.via_form && solved.pow_bits == 0 => CaptchaPath::NoJs,
            Passed::Sum => CaptchaPath::Sum,
            Passed::Skip => CaptchaPath::Skip,
            Passed::NeedsTrust => {
                // The email's record counts only with its known-reader token: otherwise anybody
                // who knows a regular reader's address would skip the sum and the work. The
                // history is read on the read pool, like every read of the file.
                let trusted = known_reader && !email.is_empty() && {
                    let (email, group, thread) = (
                        email.to_owned(),
                        group.clone(),
                        req.thread.as_str().to_owned(),
                    );
                    self.view
                        .query(move |p| {
                            let mut history = p.history(&email, &group, None, 0, &thread, now);
                            history.known_reader = Some(true);
                            is_trusted(&history)
                        })
                        .await
                        .map_err(projections_unavailable)?
                };
                if !trusted {
                    return Err(self
                        .with_fresh_challenge(req, |fresh| SubmitRefusal::Captcha {
                            error: CaptchaError::Unanswered,
                            fresh,
                        })
                        .await);
                }
                CaptchaPath::Trusted
            }
        };
        metrics::counter!("saring_captcha_path_total", "path" => path.as_str()).increment(1);
        self.risk.note(&group, req.thread.as_str(), now);
        Ok(crate::pow::PowFacts {
            path,
            difficulty: solved.difficulty,
            bits: solved.pow_bits,
        })
    }

    /// A replay is answered as one before it can eat the reader's rate allowance; the create
    /// command's "no stream" expectation stays the real guarantee across replicas.
    async fn refuse_known_comment(&self, id: Uuid, req: &SubmitRequest) -> Result<(), SubmitError> {
        // A lookup by primary key, but a file read all the same: on the read pool.
        let known = self
            .view
            .query(move |p| p.has_comment(id))
            .await
            .map_err(projections_unavailable)?;
        if known {
            return Err(self
                .with_fresh_challenge(req, |fresh| SubmitRefusal::Replayed { fresh })
                .await);
        }
        Ok(())
    }

    /// A banned author or address gets the filter's refusal, after the captcha was spent.
    fn refuse_banned(
        &self,
        req: &SubmitRequest,
        clean: &input::CleanSubmission,
        now: DateTime<Utc>,
    ) -> Result<(), SubmitError> {
        let who = crate::domain::ban::BanSubject {
            email: clean.author_email.as_str(),
            name: &clean.author_name,
            url: clean.author_url.as_deref(),
            ip: Some(req.client_ip),
        };
        match self.ban_matching(&who, now) {
            Some(_) => Err(CommandError::Refused(SubmitRefusal::Banned)),
            None => Ok(()),
        }
    }

    /// The per-client limits refuse (`429`); the global ceiling only asks for a hold.
    fn check_comment_rate(
        &self,
        req: &SubmitRequest,
        email: &str,
    ) -> Result<Admission, SubmitError> {
        match &self.limits {
            Some(l) => l
                .check_comment(req.client_ip, email, req.thread.as_str())
                .map_err(|limited| CommandError::Refused(SubmitRefusal::RateLimited(limited))),
            None => Ok(Admission::Normal),
        }
    }

    /// Screens the submission with the policy in force, against the author's history and the
    /// thread and parent facts the decider needs. On the screening threads: the history is
    /// read from the projection database and the policy's matching is CPU work, neither of
    /// which may stall the async workers. A failed read is a `503`, never a verdict on an empty
    /// history.
    async fn screen(
        &self,
        submission: &Submission,
        req: &SubmitRequest,
    ) -> Result<Screened, SubmitError> {
        let policy = self.policy.current();
        let learn = self.learn;
        let (submission, client_ip, honeypot) =
            (submission.clone(), req.client_ip, req.honeypot.clone());
        let view = Arc::clone(&self.view);
        let keys = self.store.privacy_keys();
        let screened = self
            .screening
            .run(move || {
                // The sealing keys too, while on this thread: the append then seals on its
                // task instead of hopping to the blocking pool for a new author's key. A
                // failure here only costs that hop (the append asks again and answers it).
                if let Some(keys) = &keys {
                    let author = crate::privacy::keys::author_of(
                        &submission.author_email,
                        &submission.client.ip,
                    );
                    if let Err(e) = keys.ready_author(&author, submission.submitted_at.date_naive())
                    {
                        tracing::warn!(error = %e, "readying a submission's keys failed");
                    }
                }
                view.read_or_fail(|p| {
                    let body = crate::policy::normalize::normalize(&submission.body);
                    let fingerprint = crate::policy::body_fingerprint_of(&body);
                    let history = p.history(
                        &submission.author_email,
                        &submission.client.ip,
                        submission.author_url.as_deref(),
                        fingerprint,
                        &submission.thread,
                        submission.submitted_at,
                    );
                    let context = SubmitContext {
                        thread_closed: p.is_closed(&submission.thread),
                        parent: submission.parent_id.and_then(|id| p.parent_facts(id)),
                    };
                    let email_known = history.author_approved > 0;
                    let input =
                        screen_input(&submission, Some(client_ip), Some(&honeypot), Some(history));
                    let trusted = input.history.is_some_and(|h| is_trusted(&h));
                    // Screened under the view's read access so the site-learned model is read in
                    // place rather than copied (it can hold two thousand comments' features).
                    let learned = learn.then_some(p.learned());
                    let mut verdict = policy.screen_normalized(&input, learned, &body);
                    // Stored without what this version's PolicyActivated says once (schema 3);
                    // moderators' views look the descriptions up by version.
                    verdict.strip_descriptions(|id| policy.description_of(id));
                    Screened {
                        verdict,
                        body,
                        fingerprint,
                        context,
                        trusted,
                        email_known,
                    }
                })
            })
            .await
            .map_err(|e| {
                projections_unavailable(crate::store::projection_db::ProjectionDbError::Task(
                    e.to_string(),
                ))
            })?
            .map_err(projections_unavailable)?;
        metrics::counter!("saring_screened_total", "outcome" => outcome_label(screened.verdict.outcome))
            .increment(1);
        Ok(screened)
    }

    /// Creates the comment's stream; the stream existing already is a replay.
    async fn create_comment(
        &self,
        submission: Submission,
        screened: Screened,
        req: &SubmitRequest,
    ) -> Result<(), SubmitError> {
        let stream = comment_stream(submission.comment_id);
        let created = self
            .shell
            .execute(&stream, CommandKind::Create, comment::evolve, |loaded| {
                comment::decide(
                    &loaded.state,
                    CommentCommand::Submit {
                        submission: Box::new(submission.clone()),
                        verdict: Box::new(screened.verdict.clone()),
                        fingerprint: screened.fingerprint,
                        context: screened.context.clone(),
                    },
                )
            })
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(CommandError::Refused(CommentError::ThreadClosed)) => {
                Err(CommandError::Refused(SubmitRefusal::ThreadClosed))
            }
            Err(CommandError::Refused(
                CommentError::ParentNotVisible | CommentError::ParentInOtherThread,
            )) => {
                let mut e = FieldErrors::default();
                e.add("parent_id", input::FieldProblem::InvalidId);
                Err(CommandError::Refused(SubmitRefusal::Invalid(e)))
            }
            // The stream exists (another replica took this token first) or the decider saw a
            // submission in it: either way the token was used.
            Err(CommandError::Refused(_))
            | Err(CommandError::Failed(StoreFailure::Contended { .. })) => Err(self
                .with_fresh_challenge(req, |fresh| SubmitRefusal::Replayed { fresh })
                .await),
            Err(CommandError::Failed(f)) => Err(CommandError::Failed(f)),
        }
    }

    /// Trades the claim a poster got with a comment that was not published for a known-reader
    /// token for its email: `None` unless `claim` was made for comment `id` and a moderator
    /// has approved the comment (or said it is not spam) and it is visible now. The claim is
    /// checked before the store is read, so a guess costs one HMAC.
    pub async fn redeem_reader_claim(
        &self,
        id: CommentId,
        claim: &str,
    ) -> Result<Option<String>, StoreError> {
        let readers = self.captcha.known_readers();
        if !readers.check_claim(id.uuid(), claim) {
            return Ok(None);
        }
        let loaded = self
            .shell
            .load(&comment_stream(id), comment::evolve)
            .await?;
        let Some(submission) = &loaded.state.submission else {
            return Ok(None);
        };
        let approved_by_moderator = loaded.recorded.iter().any(|r| {
            matches!(
                codec::decode_recorded(r),
                Some(
                    DomainEvent::CommentApproved {
                        by: crate::domain::Actor::Moderator(_),
                        ..
                    } | DomainEvent::CommentMarkedNotSpam {
                        by: crate::domain::Actor::Moderator(_),
                        ..
                    }
                )
            )
        });
        let visible = loaded.state.status == Some(CommentStatus::Published);
        Ok((approved_by_moderator && visible)
            .then(|| readers.issue(&submission.author_email, Utc::now())))
    }

    /// A comment with everything moderators need.
    pub async fn moderator_view(&self, id: CommentId) -> Result<Option<ModeratorView>, StoreError> {
        let loaded = self
            .shell
            .load(&comment_stream(id), comment::evolve)
            .await?;
        let mut view = moderator_view(&loaded);
        if let Some(v) = &mut view {
            self.with_descriptions(v).await?;
        }
        Ok(view)
    }

    /// Fills the rule descriptions a stored verdict left to its policy version.
    async fn with_descriptions(&self, view: &mut ModeratorView) -> Result<(), StoreError> {
        match &mut view.verdict {
            Some(verdict) => {
                self.descriptions
                    .fill(verdict, &self.policy.current(), &self.shell)
                    .await
            }
            None => Ok(()),
        }
    }

    /// Applies a moderator decision if the comment is still at `expected_version`; someone
    /// else's decision in between is answered with the comment as it is now, never retried.
    pub async fn decide(
        &self,
        id: CommentId,
        action: ModeratorAction,
        moderator: &crate::domain::values::ModeratorName,
        reason: &str,
        expected_version: u64,
    ) -> Result<DecisionOutcome, DecisionError> {
        let reason: String = reason.chars().take(input::MAX_REASON_CHARS).collect();
        let decided = self
            .shell
            .execute(
                &comment_stream(id),
                CommandKind::ChangeOnce,
                comment::evolve,
                |loaded| {
                    if loaded.revision != Some(expected_version) {
                        let current = moderator_view(loaded).ok_or(DecisionRefusal::NotFound)?;
                        return Err(DecisionRefusal::Stale(Box::new(current)));
                    }
                    comment::decide(
                        &loaded.state,
                        CommentCommand::Decide {
                            action,
                            moderator: moderator.clone(),
                            reason: reason.clone(),
                            now: Utc::now(),
                        },
                    )
                    .map_err(DecisionRefusal::Illegal)
                },
            )
            .await;
        let appended = match decided {
            Ok(appended) => appended,
            Err(CommandError::Refused(DecisionRefusal::Stale(mut current))) => {
                self.with_descriptions(&mut current).await?;
                return Err(CommandError::Refused(DecisionRefusal::Stale(current)));
            }
            Err(CommandError::Failed(StoreFailure::Contended { .. })) => {
                let current = self
                    .moderator_view(id)
                    .await?
                    .ok_or(CommandError::Refused(DecisionRefusal::NotFound))?;
                return Err(CommandError::Refused(DecisionRefusal::Stale(Box::new(
                    current,
                ))));
            }
            Err(e) => return Err(e),
        };
        metrics::counter!("saring_decisions_total", "action" => action.as_str()).increment(1);
        Ok(DecisionOutcome {
            id: id.uuid(),
            status: status_label(appended.state.status),
            version: appended.revision,
        })
    }

    /// A reader report: one per reader (by address) per comment, within the per-address report
    /// limit; retried on a conflict, as the decider simply sees the newer reports. Beyond
    /// [`comment::MAX_STORED_REPORTS`] a report is answered the same but only counted
    /// (`saring_reports_unstored_total`), so a flood cannot grow the comment's stream.
    pub async fn flag(
        &self,
        id: CommentId,
        client_ip: IpAddr,
        reason: &str,
    ) -> Result<(), DecisionError> {
        if let Some(l) = &self.limits {
            l.check_report(client_ip)
                .map_err(|limited| CommandError::Refused(DecisionRefusal::RateLimited(limited)))?;
        }
        let reporter = self.reporter_id(client_ip);
        let reason: String = reason.chars().take(input::MAX_REASON_CHARS).collect();
        let appended = self
            .shell
            .execute(
                &comment_stream(id),
                CommandKind::Retry,
                comment::evolve,
                |loaded| {
                    if loaded.state.submission.is_none() {
                        return Err(DecisionRefusal::NotFound);
                    }
                    comment::decide(
                        &loaded.state,
                        CommentCommand::Flag {
                            reporter: reporter.clone(),
                            reason: reason.clone(),
                            threshold: self.threads.flag_threshold,
                            now: Utc::now(),
                        },
                    )
                    .map_err(DecisionRefusal::Flag)
                },
            )
            .await?;
        let stored = appended
            .events
            .iter()
            .any(|e| matches!(e, DomainEvent::CommentFlagged { .. }));
        if appended
            .events
            .iter()
            .any(|e| matches!(e, DomainEvent::CommentReportedQueued { .. }))
            && let Some(s) = &appended.state.submission
        {
            self.webhooks.notify(webhooks::Notice::new(
                webhooks::Kind::Reported,
                id.uuid(),
                &s.thread,
                &s.author_name,
                &s.body,
            ));
        }
        if !stored {
            metrics::counter!("saring_reports_unstored_total").increment(1);
        }
        Ok(())
    }

    /// A private, stable id of a reporter: an HMAC of their address group, so the log never
    /// holds a reporter's address.
    fn reporter_id(&self, ip: IpAddr) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.reporter_key)
            .expect("HMAC takes any key length");
        mac.update(crate::limits::address_group(ip).to_string().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..12])
    }

    /// Closes (`close = true`) or reopens a thread; retried on a conflict, so a colleague's
    /// close in between is answered as "already closed" by the decider itself.
    pub async fn set_thread_closed(
        &self,
        key: &ThreadKey,
        close: bool,
        moderator: &crate::domain::values::ModeratorName,
    ) -> Result<(), DecisionError> {
        self.shell
            .execute(
                &thread_stream(key.as_str()),
                CommandKind::Retry,
                thread::evolve,
                |loaded| {
                    let (thread, moderator, now) = (key.to_string(), moderator.clone(), Utc::now());
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
                    thread::decide(&loaded.state, command).map_err(DecisionRefusal::Thread)
                },
            )
            .await
            .map(drop)
    }

    /// Records the policy in force, unless the log already says so.
    pub async fn record_policy(&self, policy: &Policy) -> Result<(), StoreError> {
        if self
            .view
            .read(|p| p.policy_version() == Some(policy.version()))
        {
            return Ok(());
        }
        let summary = serde_json::to_value(policy.summary()).unwrap_or_default();
        let event = DomainEvent::PolicyActivated {
            version: policy.version().to_string(),
            summary,
            descriptions: policy.descriptions(),
            at: Utc::now(),
        };
        self.shell.record(POLICY_STREAM, &[event]).await
    }
}

/// Threads that screen posts: as many as the async workers used to screen on (two cores on
/// the reference machine); screening is a few hundred microseconds, so two keep up with
/// thousands of posts a second.
const SCREENING_THREADS: usize = 2;

/// A failed read of the projection database, as the store failure the HTTP layer answers
/// `503 store_unavailable`: the request may simply be repeated.
fn projections_unavailable<R>(
    e: crate::store::projection_db::ProjectionDbError,
) -> CommandError<R> {
    CommandError::Failed(StoreFailure::Store(StoreError::from(e)))
}

/// The screening's result, as the create command needs it.
struct Screened {
    verdict: Verdict,
    /// The body as the policy normalised it, for the wave fold's observation.
    body: crate::policy::normalize::Normalized,
    fingerprint: u64,
    context: SubmitContext,
    /// Whether the author's record earns passing the global ceiling (see [`is_trusted`]).
    trusted: bool,
    /// Whether the email had approved comments before (then only its token, or a moderator,
    /// earns a new token).
    email_known: bool,
}

/// Approved comments (and no spam) an author needs to pass the global ceiling unheld: the words
/// of the seed policy's `TRUSTED_AUTHOR` rule, "three approved and no spam".
const TRUSTED_APPROVED: u32 = 3;

/// The id of the pseudo-rule a verdict carries when the global ceiling held the comment; the
/// moderator view and the console card show it with its description like any matched rule.
pub const GLOBAL_CEILING_RULE: &str = hold_rules::GLOBAL_CEILING.id;

/// Whether an author's history is good enough to pass the global ceiling as normal and to skip
/// the sum: the seed policy's `TRUSTED_AUTHOR` words, with the known-reader token that binds the
/// email's record to the reader who earned it ([`crate::policy::History::trusted`]).
fn is_trusted(history: &crate::policy::History) -> bool {
    history.trusted(TRUSTED_APPROVED)
}

/// The id of the pseudo-rule a verdict carries when a rate-limit key map was full (a flood from
/// more clients than the limiter remembers) and the comment was held instead of counted.
pub const LIMIT_KEYS_FULL_RULE: &str = hold_rules::LIMIT_KEYS_FULL.id;

/// Over the global ceiling, or with a rate-limit key map full, a comment the policy would
/// publish is held for a moderator instead, with the reason in its verdict; spam and reject stay
/// as they are, and trusted authors pass.
fn hold_over_ceiling(screened: &mut Screened, admission: Admission) {
    let Admission::HoldForModeration(reason) = admission else {
        return;
    };
    if screened.trusted || screened.verdict.outcome != Outcome::Accept {
        return;
    }
    let (rule, matched) = match reason {
        HoldReason::GlobalCeiling => (&hold_rules::GLOBAL_CEILING, "global limit reached".into()),
        HoldReason::KeyMapFull(scope) => (
            &hold_rules::LIMIT_KEYS_FULL,
            format!("{scope} limit table full"),
        ),
    };
    rule.hold(&mut screened.verdict, Some(matched));
    match reason {
        HoldReason::GlobalCeiling => {
            metrics::counter!("saring_comments_held_by_ceiling_total").increment(1);
        }
        HoldReason::KeyMapFull(_) => {
            metrics::counter!("saring_comments_held_by_full_limits_total").increment(1);
        }
    }
}

/// Input rules on every field, the thread key and the parent id, all reported at once.
fn check_input(
    req: &SubmitRequest,
) -> Result<(input::CleanSubmission, Option<Uuid>), SubmitRefusal> {
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
    let parent_raw = req.parent_id.trim();
    let parent_id = if parent_raw.is_empty() || parent_raw == "0" {
        None
    } else {
        CommentId::parse(parent_raw)
            .map(CommentId::uuid)
            .map_err(|e| errors.add("parent_id", e.problem()))
            .ok()
    };
    match clean {
        Some(clean) if errors.is_empty() => Ok((clean, parent_id)),
        _ => Err(SubmitRefusal::Invalid(errors)),
    }
}

/// The submission as the log records it: the address only as its group.
fn submission_of(
    req: &SubmitRequest,
    clean: input::CleanSubmission,
    parent_id: Option<Uuid>,
    solved: &crate::captcha::Solved,
    now: DateTime<Utc>,
    comment_id: Uuid,
) -> Submission {
    Submission {
        comment_id,
        thread: req.thread.to_string(),
        parent_id,
        author_name: clean.author_name,
        author_email: clean.author_email.into(),
        author_url: clean.author_url,
        body: clean.body,
        client: ClientFacts {
            ip: AddressGroup::of(req.client_ip).to_string(),
            user_agent: req.user_agent.clone(),
        },
        captcha_solve_ms: solved.solve_time_ms,
        pow: None,
        known_reader: None,
        lang: req.lang,
        submitted_at: now,
        erased: false,
    }
}

/// The new comment as its author sees it, built from what was written rather than read back.
fn authors_copy(s: &Submission, outcome: Outcome) -> PublicComment {
    PublicComment {
        id: s.comment_id,
        parent_id: s.parent_id,
        author_name: s.author_name.clone(),
        author_url: s.author_url.clone(),
        body_html: crate::projections::render::body_html(&s.body),
        created_at: s.submitted_at,
        pending: outcome != Outcome::Accept,
        erased: false,
        replies: Vec::new(),
    }
}

/// A stream's status, or `pending` for one folded before its submission arrived.
fn status_label(status: Option<CommentStatus>) -> CommentStatus {
    status.unwrap_or(CommentStatus::Pending)
}

/// Whether the filter reads what the site's moderators taught (`SARING_LEARN=off` turns it
/// off). Read once: the setting is for the whole process.
pub fn learn_from_moderators() -> bool {
    static ON: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
        !std::env::var("SARING_LEARN").is_ok_and(|v| v.eq_ignore_ascii_case("off"))
    });
    *ON
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
        // What the submission recorded of the token, so a backtest replays it as it was.
        history: history.map(|h| crate::policy::History {
            known_reader: s.known_reader,
            ..h
        }),
        pow: s.pow,
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

/// The moderators' record of a loaded comment stream; `None` when it holds no submission.
fn moderator_view(loaded: &Loaded<CommentState>) -> Option<ModeratorView> {
    let state = &loaded.state;
    let s = state.submission.as_ref()?;
    let history = loaded
        .recorded
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
        status: status_label(state.status),
        // The last recorded revision, counting events this version cannot read.
        version: loaded.revision.unwrap_or(0),
        author_name: s.author_name.clone(),
        author_email: s.author_email.clone(),
        author_url: s.author_url.clone(),
        client_ip: s.client.ip.clone(),
        user_agent: s.client.user_agent.clone(),
        body: s.body.clone(),
        body_html: if state.body_purged && !s.erased {
            crate::projections::render::PURGED_HTML.to_string()
        } else {
            crate::projections::render::body_html(&s.body)
        },
        created_at: s.submitted_at,
        captcha_solve_ms: s.captcha_solve_ms,
        verdict: state.verdict.clone(),
        reports: state.reporters.len(),
        reports_capped: state.reports_capped(),
        history,
    })
}

/// A queue entry for moderators (from the projections, no store read).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    /// Comment id.
    #[schema(value_type = String)]
    pub id: Uuid,
    /// Thread key.
    pub thread: String,
    /// Current status.
    #[schema(value_type = String)]
    pub status: CommentStatus,
    /// Display name.
    pub author_name: String,
    /// Private email.
    pub author_email: String,
    /// The body as safe HTML.
    pub body_html: String,
    /// Submission time.
    #[schema(value_type = String, format = DateTime)]
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
            status: status_label(r.status),
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

/// Why a policy reload did not put a new policy in force.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new files are invalid; the old policy stays in force.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// The compilation task did not complete.
    #[error("the policy compilation did not complete")]
    Join(#[from] tokio::task::JoinError),
}

/// Reloads the policy files on the blocking pool: compiling the rules is CPU work that must not
/// hold an async worker.
pub async fn reload_policy(policy: &Arc<PolicyHandle>) -> Result<Arc<Policy>, ReloadError> {
    let policy = policy.clone();
    Ok(tokio::task::spawn_blocking(move || policy.reload()).await??)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::History;

    fn screened(outcome: Outcome, history: History) -> Screened {
        Screened {
            verdict: Verdict {
                outcome,
                score: 0.0,
                rules: vec![],
                policy_version: "v1".into(),
            },
            body: crate::policy::normalize::normalize(""),
            fingerprint: 0,
            context: SubmitContext {
                thread_closed: false,
                parent: None,
            },
            trusted: is_trusted(&history),
            email_known: false,
        }
    }

    fn rules(s: &Screened) -> Vec<&str> {
        s.verdict.rules.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn over_the_ceiling_a_publishable_comment_is_held_with_the_reason() {
        let mut s = screened(Outcome::Accept, History::default());
        hold_over_ceiling(
            &mut s,
            Admission::HoldForModeration(HoldReason::GlobalCeiling),
        );
        assert_eq!(s.verdict.outcome, Outcome::Hold);
        assert_eq!(rules(&s), [GLOBAL_CEILING_RULE]);
        // Within the ceiling nothing changes.
        let mut s = screened(Outcome::Accept, History::default());
        hold_over_ceiling(&mut s, Admission::Normal);
        assert_eq!(s.verdict.outcome, Outcome::Accept);
        assert!(rules(&s).is_empty());
    }

    #[test]
    fn with_a_full_limit_table_a_publishable_comment_is_held_with_that_reason() {
        let mut s = screened(Outcome::Accept, History::default());
        let full =
            Admission::HoldForModeration(HoldReason::KeyMapFull(crate::limits::Scope::Address));
        hold_over_ceiling(&mut s, full);
        assert_eq!(s.verdict.outcome, Outcome::Hold);
        assert_eq!(rules(&s), [LIMIT_KEYS_FULL_RULE]);
        assert_eq!(
            s.verdict.rules[0].matched.as_deref(),
            Some("address limit table full")
        );
    }

    #[test]
    fn over_the_ceiling_worse_verdicts_stand_and_trusted_authors_pass() {
        for outcome in [Outcome::Hold, Outcome::Spam, Outcome::Reject] {
            let mut s = screened(outcome, History::default());
            hold_over_ceiling(
                &mut s,
                Admission::HoldForModeration(HoldReason::GlobalCeiling),
            );
            assert_eq!(s.verdict.outcome, outcome);
            assert!(rules(&s).is_empty(), "{outcome:?}");
        }
        let trusted = History {
            author_approved: 3,
            ..History::default()
        };
        let mut s = screened(Outcome::Accept, trusted);
        hold_over_ceiling(
            &mut s,
            Admission::HoldForModeration(HoldReason::GlobalCeiling),
        );
        assert_eq!(s.verdict.outcome, Outcome::Accept);
        // Two approved, or any spam, is not trust.
        for history in [
            History {
                author_approved: 2,
                ..History::default()
            },
            History {
                author_approved: 9,
                author_spam: 1,
                ..History::default()
            },
        ] {
            let mut s = screened(Outcome::Accept, history);
            hold_over_ceiling(
                &mut s,
                Admission::HoldForModeration(HoldReason::GlobalCeiling),
            );
            assert_eq!(s.verdict.outcome, Outcome::Hold, "{history:?}");
        }
    }
}
