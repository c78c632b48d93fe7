//! Spam waves in the service: the fold of [`crate::projections::waves`] kept in memory, fed by
//! this process's own submissions at once and by the log (other replicas' submissions and
//! decisions) on the background timer; hold mode; and the decision on a whole wave.
//!
//! At start the last [`WaveConfig::scan_positions`] log positions are folded (a wave lives for
//! minutes, so the recent log is all it needs). Submissions recorded more than an hour after
//! their own time (imports) are left out: an import of old comments is not a wave now.
//!
//! Deciding a wave appends `WaveDecided` to `wave-<id>`, a stream that must not exist yet, so
//! of two moderators deciding the same wave at once one wins and the other is told who; then
//! each open comment of the wave is decided through the ordinary decision path (with its
//! version from the projections), so the audit log shows the wave and each comment under the
//! moderator's name.

use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CommandError, CommandKind, Screened, Service, StoreFailure, codec};
use crate::domain::values::CommentId;
use crate::domain::{Actor, CommentStatus, DomainEvent, ModeratorAction, Submission};
use crate::policy::Outcome;
use crate::projections::waves::{Observation, Wave, WaveDecision, WaveRules, WaveState};
use crate::store::StoreError;

/// The id of the pseudo-rule a verdict carries when hold mode held a comment of an open wave.
pub const WAVE_HELD_RULE: &str = super::hold_rules::WAVE_HELD.id;

/// Comments one wave decision decides at most (a wave lists at most this many).
pub const MAX_WAVE_DECISION: usize = crate::projections::waves::MAX_MEMBERS;

/// Log events read per store call while folding.
const READ_PAGE: usize = 1_000;

/// Submissions recorded this long after their own time are imports, not arrivals.
const IMPORT_LAG_SECONDS: i64 = 3_600;

/// Domains that never make a wave unless the site lists its own: readers everywhere link to
/// them at once when news breaks.
const DEFAULT_IGNORED_DOMAINS: &[&str] = &[
    "youtube.com",
    "youtu.be",
    "wikipedia.org",
    "google.com",
    "x.com",
    "twitter.com",
    "facebook.com",
    "instagram.com",
];

/// The `[waves]` table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WaveConfig {
    /// Whether waves are looked for at all (default true).
    pub enabled: bool,
    /// Comments of one shape that make a wave (default 5).
    pub min_comments: usize,
    /// In at least this many threads (default 3).
    pub min_threads: usize,
    /// Within this many seconds (default 600).
    pub window_seconds: u64,
    /// Hold new comments of an open wave's shape until a moderator decides the wave (default
    /// false; `SARING_WAVES_HOLD=on|off` overrides).
    pub hold: bool,
    /// Log positions folded at start (default 20,000).
    pub scan_positions: u64,
    /// Link domains that never make a wave (default: the big platforms readers share).
    pub ignore_domains: Option<Vec<String>>,
}

impl Default for WaveConfig {
    fn default() -> Self {
        WaveConfig {
            enabled: true,
            min_comments: 5,
            min_threads: 3,
            window_seconds: 600,
            hold: false,
            scan_positions: 20_000,
            ignore_domains: None,
        }
    }
}

impl WaveConfig {
    /// The table with `SARING_WAVES_HOLD` applied.
    pub fn with_env(mut self) -> WaveConfig {
        if let Ok(v) = std::env::var("SARING_WAVES_HOLD") {
            match v.trim().to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => self.hold = true,
                "off" | "false" | "0" | "no" => self.hold = false,
                _ => {}
            }
        }
        self
    }

    /// The fold's rules.
    pub fn rules(&self) -> WaveRules {
        WaveRules {
            min_comments: self.min_comments,
            min_threads: self.min_threads,
            window_seconds: i64::try_from(self.window_seconds).unwrap_or(i64::MAX),
        }
    }

    fn ignored(&self) -> HashSet<String> {
        match &self.ignore_domains {
            Some(list) => list.iter().map(|d| d.trim().to_ascii_lowercase()).collect(),
            None => DEFAULT_IGNORED_DOMAINS
                .iter()
                .map(|d| d.to_string())
                .collect(),
        }
    }
}

/// The in-memory waves.
#[derive(Debug)]
pub struct Waves {
    config: WaveConfig,
    ignored: HashSet<String>,
    inner: RwLock<Folded>,
}

#[derive(Debug)]
struct Folded {
    state: WaveState,
    /// The next log position to fold; `None` before the first read.
    next_position: Option<u64>,
    /// Submissions this process folded at once ([`Service::observe_wave`]).
    own: OwnSubmissions,
}

/// The comments this process folded as they were submitted, so the refresh that meets them in
/// the log (every five seconds) neither opens, decodes nor normalises them again only for the
/// fold to drop them as seen ([`crate::store::EventStore::read_all_skipping`]): on the
/// embedded store that was every submission (about 5 % of the server's CPU in the reader flow,
/// docs/loadtest.md). Bounded below the fold's own memory of
/// seen comments ([`crate::projections::waves::MAX_SEEN`]), oldest out first, so an id held
/// here is one the fold still remembers, save after more than that many other replicas'
/// submissions in one refresh, where skipping it only spares a second count.
#[derive(Debug, Default)]
struct OwnSubmissions {
    ids: HashSet<Uuid>,
    order: VecDeque<Uuid>,
}

/// Own submissions remembered at most: more than five seconds' worth at 3,000 comments/s.
const OWN_SUBMISSIONS_MAX: usize = 16_384;

impl OwnSubmissions {
    fn remember(&mut self, id: Uuid) {
        if self.ids.insert(id) {
            self.order.push_back(id);
        }
        while self.order.len() > OWN_SUBMISSIONS_MAX {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
    }
}

impl Waves {
    /// Waves found with `config`.
    pub fn new(config: WaveConfig) -> Waves {
        Waves {
            ignored: config.ignored(),
            inner: RwLock::new(Folded {
                state: WaveState::new(config.rules()),
                next_position: None,
                own: OwnSubmissions::default(),
            }),
            config,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &WaveConfig {
        &self.config
    }
}

impl Default for Waves {
    fn default() -> Self {
        Waves::new(WaveConfig::default())
    }
}

/// Why a wave decision was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaveRefusal {
    /// No such wave (404).
    #[error("no such wave")]
    NotFound,
    /// A moderator decided it already (409): who, and what.
    #[error("the wave was decided already")]
    Decided {
        /// The moderator.
        by: String,
        /// The action.
        action: ModeratorAction,
    },
    /// Restore and back-to-pending are not wave decisions (400).
    #[error("not a wave decision")]
    Action,
}

/// A wave decision that did not go through.
pub type WaveFailure = CommandError<WaveRefusal>;

/// The statuses a wave decision applies to: the comments it can still change.
fn applies_to(action: ModeratorAction, status: Option<CommentStatus>) -> bool {
    use CommentStatus as S;
    match action {
        ModeratorAction::Approve => matches!(status, Some(S::Pending)),
        ModeratorAction::Reject | ModeratorAction::Spam | ModeratorAction::Delete => {
            matches!(status, Some(S::Pending | S::Published))
        }
        ModeratorAction::NotSpam => matches!(status, Some(S::Spam)),
        ModeratorAction::Restore | ModeratorAction::Requeue => false,
    }
}

fn wave_stream(id: Uuid) -> String {
    format!("wave-{id}")
}

impl Service {
    /// The service finding waves with `config`.
    pub fn with_waves(mut self, config: WaveConfig) -> Service {
        self.waves = Waves::new(config);
        self
    }

    /// The waves' settings.
    pub fn wave_config(&self) -> &WaveConfig {
        self.waves.config()
    }

    /// What the wave fold sees of a submission, with the policy in force.
    pub(super) fn wave_observation(
        &self,
        s: &Submission,
        body: &crate::policy::normalize::Normalized,
    ) -> Option<Observation> {
        if !self.waves.config.enabled {
            return None;
        }
        let hosts: Vec<String> = self
            .policy
            .current()
            .link_hosts_in(&s.body, body)
            .into_iter()
            .filter(|h| {
                let d = crate::projections::waves::registrable(h);
                !self.waves.ignored.contains(&d) && !self.waves.ignored.contains(h)
            })
            .collect();
        Some(Observation::of_normalized(
            s.comment_id,
            &s.thread,
            s.submitted_at,
            &s.body,
            body,
            &hosts,
        ))
    }

    /// In hold mode, the open wave whose shape the submission has.
    pub(super) fn wave_to_hold(&self, obs: Option<&Observation>) -> Option<Uuid> {
        let obs = obs?;
        if !self.waves.config.hold {
            return None;
        }
        self.waves.inner.read().state.open_wave_for(obs)
    }

    /// Folds this process's own submission at once (the log brings it again later, and the
    /// fold counts it once); returns the waves it started.
    pub(super) fn observe_wave(&self, obs: &Observation) -> Vec<Wave> {
        let mut folded = self.waves.inner.write();
        folded.own.remember(obs.comment);
        let started = folded.state.observe(obs);
        started
            .into_iter()
            .filter_map(|id| folded.state.wave(id).cloned())
            .collect()
    }

    /// Folds the log from where this process left off (at start: the last
    /// [`WaveConfig::scan_positions`] positions). The signatures are computed on the blocking
    /// pool: normalising thousands of bodies is CPU work.
    pub async fn refresh_waves(&self) -> Result<(), StoreError> {
        if !self.waves.config.enabled {
            return Ok(());
        }
        let mut from = match self.waves.inner.read().next_position {
            Some(p) => p,
            None => self
                .view()
                .position()
                .saturating_sub(self.waves.config.scan_positions),
        };
        loop {
            // A copy (a few hundred KiB at most, once a page): the store may test it on
            // another thread.
            let own = std::sync::Arc::new(self.waves.inner.read().own.ids.clone());
            let skip = move |stream: &str| {
                crate::domain::comment::id_from_stream(stream).is_some_and(|id| own.contains(&id))
            };
            let page = self
                .store()
                .read_all_skipping(from, READ_PAGE, std::sync::Arc::new(skip))
                .await?;
            let Some(last) = page.last() else {
                let mut folded = self.waves.inner.write();
                if folded.next_position.is_none_or(|p| p < from) {
                    folded.next_position = Some(from);
                }
                return Ok(());
            };
            let first = page[0].position;
            from = last.position + 1;
            // Decoded, and the page freed, on the blocking pool: a page of a thousand events
            // takes milliseconds, which on an async worker holds up every request queued
            // behind it (docs/loadtest.md, "Reads while the follower folds a backlog").
            let facts = tokio::task::spawn_blocking(move || facts_of(&page))
                .await
                .map_err(|e| StoreError::Backend(format!("decoding the log for waves: {e}")))?;
            let observations = self.observe_all(facts).await;
            let mut folded = self.waves.inner.write();
            if folded.next_position.is_some_and(|p| p > first) {
                // Another refresh folded this page first.
                continue;
            }
            for o in observations {
                match o {
                    Folding::Observed(obs) => {
                        folded.state.observe(&obs);
                    }
                    Folding::Decided(wave, decision) => folded.state.decide(wave, decision),
                    Folding::Erased(comment) => folded.state.forget_words_of(comment),
                }
            }
            folded.next_position = Some(from);
        }
    }

    async fn observe_all(&self, facts: Vec<Fact>) -> Vec<Folding> {
        let policy = self.policy.current();
        let ignored = self.waves.ignored.clone();
        let work = move || {
            facts
                .into_iter()
                .map(|f| match f {
                    Fact::Submitted(s) => {
                        let body = crate::policy::normalize::normalize(&s.body);
                        let hosts: Vec<String> = policy
                            .link_hosts_in(&s.body, &body)
                            .into_iter()
                            .filter(|h| {
                                let d = crate::projections::waves::registrable(h);
                                !ignored.contains(&d) && !ignored.contains(h)
                            })
                            .collect();
                        Folding::Observed(Observation::of_normalized(
                            s.comment_id,
                            &s.thread,
                            s.submitted_at,
                            &s.body,
                            &body,
                            &hosts,
                        ))
                    }
                    Fact::Erased(comment) => Folding::Erased(comment),
                    Fact::Decided(wave, action, by, at) => Folding::Decided(
                        wave,
                        WaveDecision {
                            action,
                            by: actor_name(&by),
                            at,
                        },
                    ),
                })
                .collect::<Vec<_>>()
        };
        tokio::task::spawn_blocking(work)
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// Every wave kept, newest first.
    pub fn wave_list(&self) -> Vec<Wave> {
        self.waves
            .inner
            .read()
            .state
            .waves()
            .into_iter()
            .cloned()
            .collect()
    }

    /// One wave.
    pub fn wave(&self, id: Uuid) -> Option<Wave> {
        self.waves.inner.read().state.wave(id).cloned()
    }

    /// Records a moderator's decision on a whole wave and returns the comments it applies to
    /// (id and version, oldest first), for the caller to decide one by one; `matched` is how
    /// many of the wave's comments that is.
    pub async fn decide_wave(
        &self,
        id: Uuid,
        action: ModeratorAction,
        moderator: &crate::domain::values::ModeratorName,
        reason: &str,
    ) -> Result<Vec<(CommentId, u64)>, WaveFailure> {
        if !applies_to(action, Some(CommentStatus::Pending))
            && !applies_to(action, Some(CommentStatus::Spam))
        {
            return Err(CommandError::Refused(WaveRefusal::Action));
        }
        self.refresh_waves().await?;
        let wave = self
            .wave(id)
            .ok_or(CommandError::Refused(WaveRefusal::NotFound))?;
        if let Some(d) = &wave.decided {
            return Err(CommandError::Refused(WaveRefusal::Decided {
                by: d.by.clone(),
                action: d.action,
            }));
        }
        // On the read pool (a lookup per member); a failed read refuses the decision (`503`)
        // rather than recording a wave decided on none of its comments.
        let members = wave.members.clone();
        let items: Vec<(CommentId, u64)> = self
            .view()
            .query(move |p| {
                members
                    .iter()
                    .filter_map(|m| p.comment(*m))
                    .filter(|r| applies_to(action, r.status))
                    .map(|r| (CommentId::from(r.id), r.version))
                    .take(MAX_WAVE_DECISION)
                    .collect()
            })
            .await
            .map_err(StoreError::from)?;
        let now = Utc::now();
        let reason: String = reason
            .chars()
            .take(crate::domain::input::MAX_REASON_CHARS)
            .collect();
        let event = DomainEvent::WaveDecided {
            wave: id,
            action,
            comments: u32::try_from(items.len()).unwrap_or(u32::MAX),
            reason,
            by: Actor::from(moderator),
            at: now,
        };
        let recorded = self
            .shell
            .execute(
                &wave_stream(id),
                CommandKind::Create,
                |s: (), _| s,
                |_| Ok::<_, WaveRefusal>(vec![event.clone()]),
            )
            .await;
        match recorded {
            Ok(_) => {}
            Err(CommandError::Failed(StoreFailure::Contended { .. })) => {
                // A colleague's decision came first: read who.
                self.refresh_waves().await?;
                let decided = self.wave(id).and_then(|w| w.decided);
                return Err(CommandError::Refused(match decided {
                    Some(d) => WaveRefusal::Decided {
                        by: d.by,
                        action: d.action,
                    },
                    None => WaveRefusal::Decided {
                        by: String::new(),
                        action,
                    },
                }));
            }
            Err(e) => return Err(e),
        }
        self.waves.inner.write().state.decide(
            id,
            WaveDecision {
                action,
                by: moderator.to_string(),
                at: now,
            },
        );
        metrics::counter!("saring_waves_decided_total", "action" => action.as_str()).increment(1);
        Ok(items)
    }
}

/// Sample bodies a wave summary shows.
pub const WAVE_SAMPLES: usize = 3;
/// Threads a wave summary names.
pub const WAVE_THREADS_NAMED: usize = 20;
/// Waves one list shows at most.
pub const MAX_WAVE_LIST: usize = 100;

/// One comment of a wave, as its card shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WaveSample {
    /// The comment.
    #[schema(value_type = String)]
    pub id: Uuid,
    /// Its thread.
    pub thread: String,
    /// The author's display name.
    pub author_name: String,
    /// The body as safe HTML (escaped when rendered).
    pub body_html: String,
    /// Its status now.
    #[schema(value_type = String)]
    pub status: CommentStatus,
}

/// A wave as the API and the console show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WaveSummary {
    /// The wave's id (the bulk selector's `wave`).
    #[schema(value_type = String)]
    pub id: Uuid,
    /// What its comments share.
    pub shapes: Vec<crate::projections::waves::Shape>,
    /// Its comments.
    pub comments: usize,
    /// How many threads.
    pub thread_count: usize,
    /// The first threads, by key.
    pub threads: Vec<String>,
    /// Its first comment's time.
    #[schema(value_type = String, format = DateTime)]
    pub first_seen: DateTime<Utc>,
    /// Its last comment's time.
    #[schema(value_type = String, format = DateTime)]
    pub last_seen: DateTime<Utc>,
    /// When it became a wave.
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    /// Whether it waits for a moderator.
    pub open: bool,
    /// Whether new comments of its shape are held (hold mode, open wave).
    pub holding: bool,
    /// The decision, once made.
    pub decided: Option<WaveDecision>,
    /// Its listed comments by status now (`pending`, `published`, `spam`, `rejected`,
    /// `deleted`).
    #[schema(value_type = std::collections::BTreeMap<String, u64>)]
    pub statuses: std::collections::BTreeMap<CommentStatus, usize>,
    /// Its first few comments.
    pub samples: Vec<WaveSample>,
}

impl Service {
    /// The waves newest first (or only `only`), at most `limit`, with their comments' statuses
    /// read from the projections on the read pool; an error if they could not be read (not
    /// waves that look empty).
    pub async fn wave_summaries(
        &self,
        only: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<WaveSummary>, StoreError> {
        let waves: Vec<Wave> = {
            let folded = self.waves.inner.read();
            match only {
                Some(id) => folded.state.wave(id).cloned().into_iter().collect(),
                None => folded
                    .state
                    .waves()
                    .into_iter()
                    .take(limit.min(MAX_WAVE_LIST))
                    .cloned()
                    .collect(),
            }
        };
        let hold = self.waves.config.hold;
        self.view()
            .query(move |p| {
                waves
                    .into_iter()
                    .map(|w| {
                        let mut statuses = std::collections::BTreeMap::new();
                        let mut samples = Vec::new();
                        for m in &w.members {
                            let Some(r) = p.comment(*m) else { continue };
                            let status = r.status.unwrap_or(CommentStatus::Pending);
                            *statuses.entry(status).or_insert(0) += 1;
                            if samples.len() < WAVE_SAMPLES {
                                samples.push(WaveSample {
                                    id: r.id,
                                    thread: r.thread,
                                    author_name: r.author_name,
                                    body_html: r.body_html,
                                    status,
                                });
                            }
                        }
                        WaveSummary {
                            id: w.id,
                            comments: w.comments,
                            thread_count: w.threads.len(),
                            threads: w.threads.iter().take(WAVE_THREADS_NAMED).cloned().collect(),
                            first_seen: w.first_seen,
                            last_seen: w.last_seen,
                            started_at: w.started_at,
                            open: w.open(),
                            holding: hold && w.open(),
                            decided: w.decided.clone(),
                            shapes: w.shapes,
                            statuses,
                            samples,
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(StoreError::from)
    }
}

enum Fact {
    Submitted(Box<Submission>),
    Decided(Uuid, ModeratorAction, Actor, DateTime<Utc>),
    /// A comment's reader was erased: a wave label made of its words goes.
    Erased(Uuid),
}

enum Folding {
    Observed(Observation),
    Decided(Uuid, WaveDecision),
    Erased(Uuid),
}

fn actor_name(a: &Actor) -> String {
    match a {
        Actor::Moderator(n) => n.clone(),
        Actor::System => "system".into(),
    }
}

/// In hold mode, a comment of an open wave that the policy would publish is held with the
/// wave in its verdict; spam and reject stay as they are, and trusted authors pass (a regular
/// reader sharing the link everyone shares is not the campaign).
pub(super) fn hold_in_wave(screened: &mut Screened, wave: Option<Uuid>) {
    let Some(wave) = wave else {
        return;
    };
    if screened.trusted || screened.verdict.outcome != Outcome::Accept {
        return;
    }
    super::hold_rules::WAVE_HELD.hold(&mut screened.verdict, Some(format!("wave {wave}")));
    metrics::counter!("saring_comments_held_by_wave_total").increment(1);
}

/// What a page of the log tells the wave detector: recent submissions (an import's old ones
/// are no wave), moderators' wave decisions and erasures.
fn facts_of(page: &[crate::store::RecordedEvent]) -> Vec<Fact> {
    page.iter()
        .filter(|r| !crate::store::is_skipped_submission(r))
        .filter_map(|r| {
            let event = codec::decode_recorded(r)?;
            match event {
                DomainEvent::CommentSubmitted(s)
                    if (r.recorded_at - s.submitted_at).num_seconds() < IMPORT_LAG_SECONDS =>
                {
                    Some(Fact::Submitted(Box::new(s)))
                }
                DomainEvent::WaveDecided {
                    wave,
                    action,
                    by,
                    at,
                    ..
                } => Some(Fact::Decided(wave, action, by, at)),
                DomainEvent::ReaderErased { .. } => {
                    crate::domain::comment::id_from_stream(&r.stream).map(Fact::Erased)
                }
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wave_decision_applies_only_to_what_it_can_change() {
        use CommentStatus as S;
        assert!(applies_to(ModeratorAction::Spam, Some(S::Published)));
        assert!(applies_to(ModeratorAction::Spam, Some(S::Pending)));
        assert!(!applies_to(ModeratorAction::Spam, Some(S::Spam)));
        assert!(applies_to(ModeratorAction::Approve, Some(S::Pending)));
        assert!(!applies_to(ModeratorAction::Approve, Some(S::Published)));
        assert!(!applies_to(ModeratorAction::Restore, Some(S::Deleted)));
    }

    fn screened(outcome: Outcome, trusted: bool) -> Screened {
        Screened {
            verdict: crate::policy::Verdict {
                outcome,
                score: 0.0,
                rules: vec![],
                policy_version: "v1".into(),
            },
            body: crate::policy::normalize::normalize(""),
            fingerprint: 0,
            context: crate::domain::comment::SubmitContext {
                thread_closed: false,
                parent: None,
            },
            trusted,
            email_known: false,
        }
    }

    #[test]
    fn hold_mode_holds_what_would_publish_and_nothing_else() {
        let wave = Some(Uuid::from_u128(9));
        let mut s = screened(Outcome::Accept, false);
        hold_in_wave(&mut s, wave);
        assert_eq!(s.verdict.outcome, Outcome::Hold);
        assert_eq!(s.verdict.rules[0].id, WAVE_HELD_RULE);
        assert!(s.verdict.rules[0].description.en.contains("spam wave"));
        for (outcome, trusted) in [
            (Outcome::Spam, false),
            (Outcome::Reject, false),
            (Outcome::Hold, false),
            (Outcome::Accept, true),
        ] {
            let mut s = screened(outcome, trusted);
            hold_in_wave(&mut s, wave);
            assert_eq!(s.verdict.outcome, outcome);
            assert!(s.verdict.rules.is_empty());
        }
        let mut s = screened(Outcome::Accept, false);
        hold_in_wave(&mut s, None);
        assert_eq!(s.verdict.outcome, Outcome::Accept, "no open wave, no hold");
    }

    #[test]
    fn the_platforms_readers_share_never_make_a_wave_unless_the_site_says_otherwise() {
        let c = WaveConfig::default();
        assert!(c.ignored().contains("youtube.com"));
        let c = WaveConfig {
            ignore_domains: Some(vec!["Contoh.ID ".into()]),
            ..WaveConfig::default()
        };
        assert_eq!(c.ignored().into_iter().collect::<Vec<_>>(), ["contoh.id"]);
    }
}
