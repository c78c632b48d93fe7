//! The read side: the projections (in the projection database, or wholly in memory for tools
//! and tests), the position they have reached so a request can wait until its own write is
//! visible, and the log of changed threads that lets page caches drop stale pages.
//!
//! On disk, memory holds only the head (position, policy history, learned model: all bounded)
//! and a byte-budgeted cache of author counts; everything else is a query on
//! `projections.sqlite3` (see [`crate::store::projection_db`]).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use serde::Deserialize;
use tokio::sync::watch;
use uuid::Uuid;

use crate::policy::History;
use crate::policy::learned::LearnedModel;
use crate::projections::authors::{self, CountKind, Counts};
use crate::projections::search::{
    AuthorRecord, ConsoleQueue, Cursor, QueueFilter, QueuePage, QueueStats, SortOrder,
};
use crate::projections::threads::page_of;
use crate::projections::{
    CommentRecord, Order, PolicyActivation, Projections, QueueName, ThreadPage,
};
use crate::store::projection_db::{Head, ProjectionDb, ProjectionDbError};

use super::read_pool::ReadPool;

/// The `[projections]` settings: byte budgets of the caches in front of the projection
/// database.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectionSettings {
    /// Bytes of rendered thread pages kept (`SARING_PAGE_CACHE_BYTES`).
    pub page_cache_bytes: usize,
    /// Bytes of author counts kept (`SARING_AUTHOR_CACHE_BYTES`).
    pub author_cache_bytes: usize,
    /// How far the WAL checkpointers lower their scheduling priority below the request
    /// workers (a nice increment, 0 to 19; `SARING_BACKGROUND_NICE`). Not the fold nor the
    /// key thread: a post's `201` waits for the first, and the second makes keys for posts.
    pub background_nice: i32,
}

impl Default for ProjectionSettings {
    fn default() -> Self {
        ProjectionSettings {
            page_cache_bytes: 32 * 1024 * 1024,
            author_cache_bytes: 4 * 1024 * 1024,
            background_nice: crate::background::DEFAULT_NICE,
        }
    }
}

impl ProjectionSettings {
    /// The settings with `SARING_PAGE_CACHE_BYTES`, `SARING_AUTHOR_CACHE_BYTES` and
    /// `SARING_BACKGROUND_NICE` applied.
    pub fn with_env(mut self) -> Result<ProjectionSettings, (&'static str, String)> {
        for (name, slot) in [
            ("SARING_PAGE_CACHE_BYTES", &mut self.page_cache_bytes),
            ("SARING_AUTHOR_CACHE_BYTES", &mut self.author_cache_bytes),
        ] {
            if let Ok(v) = std::env::var(name) {
                *slot = v
                    .trim()
                    .parse()
                    .map_err(|_| (name, format!("{v:?} is not a number of bytes")))?;
            }
        }
        if let Ok(v) = std::env::var("SARING_BACKGROUND_NICE") {
            self.background_nice = v
                .trim()
                .parse()
                .ok()
                .filter(|n| (0..=19).contains(n))
                .ok_or((
                    "SARING_BACKGROUND_NICE",
                    format!("{v:?} is not a nice increment from 0 to 19"),
                ))?;
        }
        Ok(self)
    }
}

/// What the disk view keeps in memory, swapped whole after each written batch.
#[derive(Debug, Clone, Default)]
pub struct Core {
    /// Position of the last event written.
    pub position: u64,
    /// Events applied.
    pub events_applied: u64,
    /// The policy version in force.
    pub policy_version: Option<String>,
    /// The recent policy activations, oldest first.
    pub policy_history: Vec<PolicyActivation>,
    /// What the moderators taught the filter (shared, replaced only when a decision changes it).
    pub learned: Arc<LearnedModel>,
}

impl From<Head> for Core {
    fn from(h: Head) -> Core {
        Core {
            position: h.position,
            events_applied: h.events_applied,
            policy_version: h.policy_version,
            policy_history: h.policy_history,
            learned: Arc::new(h.learned),
        }
    }
}

/// Threads changed recently, by a sequence number, so page caches can drop their pages.
const CHANGE_LOG: usize = 8192;

struct Changes {
    seq: AtomicU64,
    log: Mutex<VecDeque<(u64, String)>>,
}

/// What changed since a sequence number.
pub enum ChangedSince {
    /// These threads (possibly repeated).
    Threads(Vec<String>),
    /// Too much to say: drop everything.
    All,
}

/// A small cache of author counts bounded in bytes. A miss inserts only if no batch was
/// written while it read, so a count read before a write never outlives it.
struct AuthorCache {
    map: Mutex<HashMap<(CountKind, String), (Counts, u64)>>,
    bytes: AtomicU64,
    clock: AtomicU64,
    epoch: AtomicU64,
    budget: usize,
}

const AUTHOR_ENTRY_OVERHEAD: usize = 64;

impl AuthorCache {
    fn new(budget: usize) -> AuthorCache {
        AuthorCache {
            map: Mutex::new(HashMap::new()),
            bytes: AtomicU64::new(0),
            clock: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            budget,
        }
    }

    fn get(
        &self,
        db: &ProjectionDb,
        kind: CountKind,
        key: &str,
    ) -> Result<Counts, ProjectionDbError> {
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        let k = (kind, key.to_string());
        if let Some((c, used)) = self.map.lock().get_mut(&k) {
            *used = now;
            return Ok(*c);
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let counts = db.counts(kind, key)?;
        let size = key.len() + AUTHOR_ENTRY_OVERHEAD;
        if size > self.budget {
            return Ok(counts);
        }
        let mut map = self.map.lock();
        if self.epoch.load(Ordering::Acquire) == epoch && map.insert(k, (counts, now)).is_none() {
            let total = self.bytes.fetch_add(size as u64, Ordering::Relaxed) as usize + size;
            if total > self.budget {
                let mut ages: Vec<(u64, (CountKind, String))> =
                    map.iter().map(|(k, (_, u))| (*u, k.clone())).collect();
                ages.sort_unstable_by_key(|(u, _)| *u);
                for (_, k) in ages.into_iter().take(map.len().div_ceil(4)) {
                    map.remove(&k);
                    self.bytes.fetch_sub(
                        (k.1.len() + AUTHOR_ENTRY_OVERHEAD) as u64,
                        Ordering::Relaxed,
                    );
                }
            }
        }
        Ok(counts)
    }

    fn written(&self, keys: &[(CountKind, String, Counts)]) {
        let mut map = self.map.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for (kind, key, counts) in keys {
            if let Some(slot) = map.get_mut(&(*kind, key.clone())) {
                slot.0 = *counts;
            }
        }
    }

    fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Logs a failed read of the projection database (it is on the operator's log and metrics).
fn log_failure(e: &ProjectionDbError) {
    metrics::counter!("saring_projection_read_errors_total").increment(1);
    tracing::error!(error = %e, "cannot read the projection database");
}

struct Disk {
    db: Arc<ProjectionDb>,
    core: ArcSwap<Core>,
    authors: AuthorCache,
    /// Where [`View::query`] runs its reads.
    pool: ReadPool,
}

enum Source {
    Memory(Box<RwLock<Projections>>),
    Disk(Disk),
}

/// Shared read side.
pub struct View {
    source: Source,
    position: watch::Sender<u64>,
    ready: AtomicBool,
    changes: Changes,
}

impl View {
    /// A view of projections held wholly in memory (tools that fold the log themselves, tests).
    pub fn new(projections: Projections) -> View {
        let pos = projections.position;
        View::with_source(Source::Memory(Box::new(RwLock::new(projections))), pos)
    }

    /// A view reading the projection database, starting from its head.
    pub fn on_disk(db: Arc<ProjectionDb>, head: Head, settings: &ProjectionSettings) -> View {
        let pos = head.position;
        View::with_source(
            Source::Disk(Disk {
                db,
                core: ArcSwap::from_pointee(Core::from(head)),
                authors: AuthorCache::new(settings.author_cache_bytes),
                pool: ReadPool::new(crate::store::projection_db::READERS),
            }),
            pos,
        )
    }

    fn with_source(source: Source, pos: u64) -> View {
        View {
            source,
            position: watch::channel(pos).0,
            ready: AtomicBool::new(false),
            changes: Changes {
                seq: AtomicU64::new(0),
                log: Mutex::new(VecDeque::new()),
            },
        }
    }

    /// The projection database, when the view reads one.
    pub fn db(&self) -> Option<&Arc<ProjectionDb>> {
        match &self.source {
            Source::Disk(d) => Some(&d.db),
            Source::Memory(_) => None,
        }
    }

    /// The in-memory head of a disk view.
    pub fn core(&self) -> Option<Arc<Core>> {
        match &self.source {
            Source::Disk(d) => Some(d.core.load_full()),
            Source::Memory(_) => None,
        }
    }

    /// Runs `f` with read access on the calling thread. A failed database read inside is
    /// logged and answered as if nothing were stored, so it is only for what needs no database
    /// (the head held in memory: position, policy version and history, learned model) and for
    /// tests; every read that may touch the file goes through [`View::query`] (request
    /// handlers, off the async workers) or [`View::read_or_fail`], so that a failure is an
    /// error, never an empty answer acted upon.
    pub fn read<T>(&self, f: impl FnOnce(&Reader<'_>) -> T) -> T {
        self.read_checked(f).0
    }

    /// Runs `f` with read access on the calling thread, failing if a database read inside
    /// failed: for work already on a blocking thread (a post's screening, a ban's sweep); a
    /// request on an async worker goes through [`View::query`] instead.
    pub fn read_or_fail<T>(
        &self,
        f: impl FnOnce(&Reader<'_>) -> T,
    ) -> Result<T, ProjectionDbError> {
        match self.read_checked(f) {
            (out, None) => Ok(out),
            (_, Some(e)) => Err(e),
        }
    }

    /// Runs `f` with read access and says whether every database read inside succeeded (the
    /// first failure, logged).
    fn read_checked<T>(&self, f: impl FnOnce(&Reader<'_>) -> T) -> (T, Option<ProjectionDbError>) {
        let reader = match &self.source {
            Source::Memory(lock) => {
                let p = lock.read();
                let reader = Reader {
                    src: ReadSrc::Memory(&p),
                    failed: RefCell::new(None),
                };
                let out = f(&reader);
                return (out, None);
            }
            Source::Disk(disk) => Reader {
                src: ReadSrc::Disk {
                    disk,
                    core: disk.core.load_full(),
                },
                failed: RefCell::new(None),
            },
        };
        let out = f(&reader);
        (out, reader.failed.into_inner())
    }

    /// Runs `f` with read access where blocking is allowed: on the read pool for a view on
    /// disk (its reads are SQLite queries, which must not stall the async workers; see
    /// [`ReadPool`] for why not tokio's blocking pool), inline for one in memory. A failed
    /// database read inside fails the whole answer, so a request is answered `503`, never with
    /// an empty page that looks true.
    pub async fn query<T, F>(self: &Arc<Self>, f: F) -> Result<T, ProjectionDbError>
    where
        T: Send + 'static,
        F: FnOnce(&Reader<'_>) -> T + Send + 'static,
    {
        let checked = |view: &View| match view.read_checked(f) {
            (out, None) => Ok(out),
            (_, Some(e)) => Err(e),
        };
        let Source::Disk(disk) = &self.source else {
            return checked(self);
        };
        let view = Arc::clone(self);
        disk.pool
            .run(move || checked(&view))
            .await
            .map_err(|e| ProjectionDbError::Task(e.to_string()))?
    }

    /// Runs `f` with write access to in-memory projections and publishes the new position;
    /// `None` for a disk view (its follower writes through [`View::commit`]).
    pub fn write<T>(&self, f: impl FnOnce(&mut Projections) -> T) -> Option<T> {
        let Source::Memory(lock) = &self.source else {
            return None;
        };
        let (out, pos) = {
            let mut p = lock.write();
            let out = f(&mut p);
            (out, p.position)
        };
        self.position.send_replace(pos);
        Some(out)
    }

    /// After a batch was written to the database: installs the new head, drops cached author
    /// counts and pages of what changed, then publishes the position (in that order, so a
    /// request that waited for its position never reads a stale cache).
    pub fn commit(
        &self,
        core: Core,
        threads: impl IntoIterator<Item = String>,
        counts: &[(CountKind, String, Counts)],
    ) {
        let pos = core.position;
        if let Source::Disk(d) = &self.source {
            d.core.store(Arc::new(core));
            d.authors.written(counts);
        }
        self.note_changed(threads);
        self.position.send_replace(pos);
    }

    fn note_changed(&self, threads: impl IntoIterator<Item = String>) {
        let mut log = self.changes.log.lock();
        for t in threads {
            let seq = self.changes.seq.fetch_add(1, Ordering::AcqRel) + 1;
            log.push_back((seq, t));
            if log.len() > CHANGE_LOG {
                log.pop_front();
            }
        }
    }

    /// The sequence number of the latest thread change.
    pub fn change_seq(&self) -> u64 {
        self.changes.seq.load(Ordering::Acquire)
    }

    /// The threads changed after `since`.
    pub fn changed_since(&self, since: u64) -> ChangedSince {
        let log = self.changes.log.lock();
        let now = self.changes.seq.load(Ordering::Acquire);
        if now == since {
            return ChangedSince::Threads(Vec::new());
        }
        match log.front() {
            Some((first, _)) if *first <= since + 1 => ChangedSince::Threads(
                log.iter()
                    .filter(|(s, _)| *s > since)
                    .map(|(_, t)| t.clone())
                    .collect(),
            ),
            _ => ChangedSince::All,
        }
    }

    /// Bytes held by the author-count cache.
    pub fn author_cache_bytes(&self) -> u64 {
        match &self.source {
            Source::Disk(d) => d.authors.bytes(),
            Source::Memory(_) => 0,
        }
    }

    /// The position of the last applied event.
    pub fn position(&self) -> u64 {
        *self.position.borrow()
    }

    /// A receiver that changes whenever events are applied (the policy follower's wake-up).
    pub fn subscribe_position(&self) -> watch::Receiver<u64> {
        self.position.subscribe()
    }

    /// Waits until the projections include `position`, or the timeout passes; returns whether
    /// they do. Lets a POST answer only once the author's own comment is visible to them.
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        let mut rx = self.position.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|p| *p >= position))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Whether the projections have caught up with the log once since start (`/readyz`).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the view caught up.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
}

enum ReadSrc<'a> {
    Memory(&'a Projections),
    Disk { disk: &'a Disk, core: Arc<Core> },
}

/// Read access to the projections, the same questions whether they are on disk or in memory.
/// A failed database read is logged, answered as if nothing were stored, and remembered: the
/// first one fails the whole [`View::query`].
pub struct Reader<'a> {
    src: ReadSrc<'a>,
    failed: RefCell<Option<ProjectionDbError>>,
}

impl Reader<'_> {
    /// The value read, or (logged and remembered) the empty answer.
    fn ok<T: Default>(&self, r: Result<T, ProjectionDbError>) -> T {
        r.unwrap_or_else(|e| {
            self.fail(e);
            T::default()
        })
    }

    fn fail(&self, e: ProjectionDbError) {
        log_failure(&e);
        self.failed.borrow_mut().get_or_insert(e);
    }

    /// Whether a database read of this reader has failed so far.
    pub fn has_failed(&self) -> bool {
        self.failed.borrow().is_some()
    }

    /// One comment's record.
    pub fn comment(&self, id: Uuid) -> Option<CommentRecord> {
        match &self.src {
            ReadSrc::Memory(p) => p.comments.get(&id).cloned(),
            ReadSrc::Disk { disk, .. } => self.ok(disk.db.comment(id)),
        }
    }

    /// Whether a comment is known.
    pub fn has_comment(&self, id: Uuid) -> bool {
        match &self.src {
            ReadSrc::Memory(p) => p.comments.contains_key(&id),
            ReadSrc::Disk { disk, .. } => self.ok(disk.db.has_comment(id)),
        }
    }

    /// A comment's thread and whether it is visible, for reply checks.
    pub fn parent_facts(&self, id: Uuid) -> Option<(String, bool)> {
        match &self.src {
            ReadSrc::Memory(p) => p.parent_facts(id),
            ReadSrc::Disk { .. } => self.comment(id).map(|r| {
                let visible = r.status == Some(crate::domain::CommentStatus::Published);
                (r.thread, visible)
            }),
        }
    }

    /// Whether a thread is closed.
    pub fn is_closed(&self, thread: &str) -> bool {
        match &self.src {
            ReadSrc::Memory(p) => p.is_closed(thread),
            ReadSrc::Disk { disk, .. } => self.ok(disk.db.thread(thread)).is_some_and(|t| t.0),
        }
    }

    /// When the first visible comment of a thread was submitted.
    pub fn first_visible_at(&self, thread: &str) -> Option<DateTime<Utc>> {
        match &self.src {
            ReadSrc::Memory(p) => p
                .threads
                .get(thread)
                .and_then(|t| t.visible.values().next())
                .and_then(|id| p.comments.get(id))
                .map(|r| r.created_at),
            ReadSrc::Disk { disk, .. } => self.ok(disk.db.first_visible_at(thread)),
        }
    }

    /// Number of visible comments of a thread.
    pub fn visible_count(&self, thread: &str) -> usize {
        match &self.src {
            ReadSrc::Memory(p) => p.visible_count(thread),
            ReadSrc::Disk { disk, .. } => {
                self.ok(disk.db.thread(thread)).map_or(0, |t| t.2 as usize)
            }
        }
    }

    /// A thread's generation, when it can be read without a query (in memory): page caches
    /// of a disk view rely on [`View::changed_since`] instead.
    pub fn cheap_generation(&self, thread: &str) -> Option<u64> {
        match &self.src {
            ReadSrc::Memory(p) => Some(p.threads.get(thread).map_or(0, |t| t.generation)),
            ReadSrc::Disk { .. } => None,
        }
    }

    /// One page of a thread and the thread's generation (0 for an unknown thread); `None` if
    /// the database could not be read (never cache that).
    pub fn thread_page(
        &self,
        thread: &str,
        order: Order,
        page: usize,
        per_page: usize,
        max_depth: usize,
    ) -> Option<(u64, ThreadPage)> {
        match &self.src {
            ReadSrc::Memory(p) => Some((
                p.threads.get(thread).map_or(0, |t| t.generation),
                p.thread_page(thread, order, page, per_page, max_depth),
            )),
            ReadSrc::Disk { disk, .. } => {
                let inputs = match disk.db.thread_inputs(thread) {
                    Ok(i) => i,
                    Err(e) => {
                        self.fail(e);
                        return None;
                    }
                };
                let Some(((closed, generation, count), visible, hidden)) = inputs else {
                    let page = page_of(
                        thread,
                        None,
                        std::iter::empty(),
                        |_| None,
                        order,
                        page,
                        per_page,
                        max_depth,
                    );
                    return Some((0, page));
                };
                let by_id: HashMap<Uuid, &CommentRecord> =
                    visible.iter().map(|r| (r.id, r)).collect();
                let page = page_of(
                    thread,
                    Some((closed, count as usize)),
                    visible.iter(),
                    |id| by_id.get(id).copied().or_else(|| hidden.get(id)),
                    order,
                    page,
                    per_page,
                    max_depth,
                );
                Some((generation, page))
            }
        }
    }

    /// Whether a comment is in the reported queue.
    pub fn is_reported(&self, id: Uuid) -> bool {
        match &self.src {
            ReadSrc::Memory(p) => p.queues.reported.values().any(|v| *v == id),
            ReadSrc::Disk { disk, .. } => self.ok(disk.db.is_reported(id)),
        }
    }

    /// The comments of a moderation queue after the cursor (a queue position), oldest first,
    /// at most `limit`, and the cursor of the next page.
    pub fn queue_page(
        &self,
        queue: QueueName,
        after: Option<u64>,
        limit: usize,
    ) -> (Vec<CommentRecord>, Option<u64>) {
        match &self.src {
            ReadSrc::Memory(p) => {
                let (items, next) = p.queue_page(queue, after, limit);
                (items.into_iter().cloned().collect(), next)
            }
            ReadSrc::Disk { disk, .. } => self.ok(disk.db.queue_page(queue, after, limit)),
        }
    }

    /// A moderation queue's size.
    pub fn queue_len(&self, queue: QueueName) -> usize {
        match &self.src {
            ReadSrc::Memory(p) => match queue {
                QueueName::Pending => p.queues.pending.len(),
                QueueName::Reported => p.queues.reported.len(),
                QueueName::Spam => p.queues.spam.len(),
                QueueName::Rejected => p.queues.rejected.len(),
            },
            ReadSrc::Disk { disk, .. } => self.ok(disk.db.queue_len(queue)),
        }
    }

    /// A console queue's count and oldest item.
    pub fn queue_stats(&self, queue: ConsoleQueue) -> QueueStats {
        match &self.src {
            ReadSrc::Memory(p) => p.queue_stats(queue),
            ReadSrc::Disk { disk, .. } => disk.db.queue_stats(queue).unwrap_or_else(|e| {
                self.fail(e);
                QueueStats {
                    count: 0,
                    oldest: None,
                }
            }),
        }
    }

    /// One page of a console queue: the items matching `filter` strictly after `after`.
    pub fn queue_search(
        &self,
        queue: ConsoleQueue,
        filter: &QueueFilter,
        order: SortOrder,
        after: Option<Cursor>,
        limit: usize,
    ) -> QueuePage {
        match &self.src {
            ReadSrc::Memory(p) => p.queue_search(queue, filter, order, after, limit),
            ReadSrc::Disk { disk, .. } => disk
                .db
                .queue_search(queue, filter, order, after, limit)
                .unwrap_or_else(|e| {
                    self.fail(e);
                    QueuePage {
                        items: Vec::new(),
                        next: None,
                        matching: 0,
                    }
                }),
        }
    }

    /// Every item of a console queue matching `filter`, oldest first, read a page at a time,
    /// stopping once `keep` returned `false`: for moderator-triggered sweeps (bulk decisions,
    /// a ban's move to spam) that must see a whole queue without holding it in memory.
    pub fn scan_queue(
        &self,
        queue: ConsoleQueue,
        filter: &QueueFilter,
        mut keep: impl FnMut(CommentRecord) -> bool,
    ) {
        let mut after = None;
        loop {
            let page = self.queue_search(queue, filter, SortOrder::Oldest, after, 500);
            for r in page.items {
                if !keep(r) {
                    return;
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return,
            }
        }
    }

    /// An author's comments on this site by status, and the first one's time.
    pub fn author_record(&self, email: &str) -> AuthorRecord {
        match &self.src {
            ReadSrc::Memory(p) => p.author_record(email),
            ReadSrc::Disk { disk, .. } => self.ok(disk.db.author_record(email)),
        }
    }

    /// Comments from the address group `ip_key` that were marked spam.
    pub fn address_spam(&self, ip_key: &str) -> u32 {
        match &self.src {
            ReadSrc::Memory(p) => p.authors.address_spam(ip_key),
            ReadSrc::Disk { disk, .. } => {
                self.ok(disk.authors.get(&disk.db, CountKind::Address, ip_key))
                    .spam
            }
        }
    }

    /// The history the policy engine sees for a new submission.
    pub fn history(
        &self,
        email: &str,
        ip_key: &str,
        url: Option<&str>,
        fingerprint: u64,
        thread: &str,
        now: DateTime<Utc>,
    ) -> History {
        match &self.src {
            ReadSrc::Memory(p) => p
                .authors
                .history(email, ip_key, url, fingerprint, thread, now),
            ReadSrc::Disk { disk, .. } => {
                let email = email.to_lowercase();
                let get = |kind, key: &str| {
                    if key.is_empty() {
                        Counts::default()
                    } else {
                        self.ok(disk.authors.get(&disk.db, kind, key))
                    }
                };
                let url = url.map(authors::normalise_url).unwrap_or_default();
                let sightings = self.ok(disk.db.sightings(fingerprint));
                authors::history_of(
                    get(CountKind::Email, &email),
                    get(CountKind::Address, ip_key),
                    get(CountKind::Url, &url),
                    sightings.into_iter(),
                    &email,
                    thread,
                    now,
                )
            }
        }
    }

    /// What the moderators taught the filter.
    pub fn learned(&self) -> &LearnedModel {
        match &self.src {
            ReadSrc::Memory(p) => &p.learned,
            ReadSrc::Disk { core, .. } => &core.learned,
        }
    }

    /// The policy version last put in force.
    pub fn policy_version(&self) -> Option<&str> {
        match &self.src {
            ReadSrc::Memory(p) => p.policy_version.as_deref(),
            ReadSrc::Disk { core, .. } => core.policy_version.as_deref(),
        }
    }

    /// The most recent policy activations, oldest first.
    pub fn policy_history(&self) -> Vec<PolicyActivation> {
        match &self.src {
            ReadSrc::Memory(p) => p.policy_history.clone(),
            ReadSrc::Disk { core, .. } => core.policy_history.clone(),
        }
    }

    /// Position reached.
    pub fn position(&self) -> u64 {
        match &self.src {
            ReadSrc::Memory(p) => p.position,
            ReadSrc::Disk { core, .. } => core.position,
        }
    }

    /// Stored comments, threads and author-history keys (for metrics).
    pub fn sizes(&self) -> (usize, usize, usize) {
        match &self.src {
            ReadSrc::Memory(p) => (p.comments.len(), p.threads.len(), p.authors.len()),
            ReadSrc::Disk { disk, .. } => {
                let comments = self.ok(disk.db.comment_count()) as usize;
                let (threads, keys) = self.ok(disk.db.sizes());
                (comments, threads as usize, keys as usize)
            }
        }
    }
}
