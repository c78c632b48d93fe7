//! The embedded event store: one SQLite file under the data folder, needing no server.
//!
//! Durability: the database runs in WAL mode with `synchronous=FULL`, so every commit fsyncs the
//! write-ahead log before [`EventStore::append`] returns; an acknowledged append survives a crash
//! or a power loss.
//!
//! Throughput comes from group commit: a single writer thread owns the only writing connection,
//! takes every append waiting in its queue at that moment and commits them in one transaction, so
//! one fsync acknowledges many appends. Each append's expected revision is checked inside that
//! transaction before it writes anything, so a conflicting append fails alone.
//!
//! Readers use their own connections from a small pool on the blocking thread pool; WAL lets them
//! read while the writer writes. Subscriptions read pages from the database and wait on a
//! [`tokio::sync::watch`] of the last committed position, so a slow subscriber holds one page of
//! events and never slows the writer.
//!
//! A second process opening the same data folder is refused with [`StoreError::Locked`] through an
//! exclusive lock on `<data_dir>/saring.lock`.
//!
//! Beside the events the database keeps the burnt captcha tokens ([`burned`]), so a token
//! answered wrongly is still refused after a restart.

pub mod burned;

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fs4::fs_std::FileExt;
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::checkpointer::Checkpointer;
use super::{
    ActualRevision, AppendResult, EncodedEvent, EventMetadata, EventStore, EventStream,
    ExpectedRevision, NewEvent, RecordedEvent, SUBMITTED, SkipStreams, StoreError, encode_append,
    validate_stream_name,
};

/// File name of the database inside the data folder.
pub const DB_FILE: &str = "saring.db";
/// File name of the lock file inside the data folder.
pub const LOCK_FILE: &str = "saring.lock";

/// The schema version this code writes; older files are migrated on open.
const SCHEMA_VERSION: i64 = 2;
/// Appends waiting for the writer before `append` callers wait for room (backpressure).
const QUEUE_CAPACITY: usize = 4096;
/// Serialised KiB that may wait for the writer at once; bounds the queue's memory, since one
/// append may be up to [`MAX_APPEND_BYTES`].
const QUEUE_KIB: u32 = 64 * 1024;
/// Bytes of event data one read returns at most (always at least one event), so a page of large
/// events cannot take unbounded memory.
const READ_BUDGET_BYTES: usize = 16 * 1024 * 1024;
/// Most appends committed in one transaction, so one batch cannot hold the writer for long.
const MAX_BATCH_APPENDS: usize = 2048;
/// Most serialised bytes committed in one transaction.
const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;
/// Longest wait for more appends before committing a batch smaller than recent ones.
const LINGER: Duration = Duration::from_micros(300);
/// Poll interval while lingering.
const LINGER_STEP: Duration = Duration::from_micros(30);
/// How often the background checkpointer copies the WAL into the database.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);
/// WAL pages after which the writer checkpoints itself, in case the background one falls behind.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 16_384;
/// Idle reader connections kept open.
const READER_POOL_SIZE: usize = 4;
/// Events a subscription reads from the database at a time; bounds its memory.
const SUBSCRIPTION_PAGE: usize = 512;

/// The embedded SQLite event store. Cheap to share behind an `Arc`; see the module docs.
pub struct SqliteStore {
    inner: Arc<Inner>,
}

/// State shared with reader tasks and subscriptions.
struct Inner {
    db_path: PathBuf,
    data_dir: PathBuf,
    /// Taken out on close so the writer thread sees its queue end after draining it.
    sender: Mutex<Option<mpsc::Sender<Message>>>,
    /// Set on close; the writer then stops taking new appends and drains its queue.
    closing: Arc<AtomicBool>,
    /// Permits of one KiB for appends between `append` and their answer (see [`QUEUE_KIB`]).
    queued: tokio::sync::Semaphore,
    /// Joined on close so every queued append is answered before `close` returns.
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Serialises concurrent calls of `close`, so none returns before the writer has stopped.
    closing_guard: Mutex<()>,
    /// Position of the last committed event (0 when empty); subscriptions wait on it.
    committed: watch::Receiver<u64>,
    readers: Mutex<Vec<Connection>>,
    /// The unexpired burnt captcha tokens, read once and kept up to date by this process
    /// (which alone writes the folder): a right answer's lookup needs no read of the file.
    burnt: burned::Remembered,
}

/// What travels to the writer thread.
enum Message {
    Append(AppendRequest),
    /// A captcha token answered wrongly, to remember until it expires.
    Burn(burned::BurnRequest),
    /// Wakes a writer waiting on an empty queue so it notices the store is closing.
    Close,
}

/// One append travelling to the writer thread.
struct AppendRequest {
    stream: String,
    expected: ExpectedRevision,
    events: Vec<EncodedEvent>,
    bytes: usize,
    reply: oneshot::Sender<Result<AppendResult, StoreError>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the store in `data_dir/saring.db`, migrating its schema.
    ///
    /// Fails with [`StoreError::Locked`] when another process has the folder open.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_with_page_limit(data_dir, None)
    }

    /// [`SqliteStore::open`] with the log file held to `max_pages` pages (SQLite's
    /// `max_page_count`): past it every write fails as on a full disk, which is how the tests
    /// reach that failure without filling a real disk.
    fn open_with_page_limit(
        data_dir: &Path,
        max_pages: Option<u64>,
    ) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Backend(format!(
                "cannot create data folder {}: {e}",
                data_dir.display()
            ))
        })?;
        let lock_path = data_dir.join(LOCK_FILE);
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| {
                StoreError::Backend(format!(
                    "cannot open lock file {}: {e}",
                    lock_path.display()
                ))
            })?;
        match FileExt::try_lock_exclusive(&lock_file) {
            Ok(true) => {}
            Ok(false) => return Err(StoreError::Locked(data_dir.display().to_string())),
            Err(e) => {
                return Err(StoreError::Backend(format!(
                    "cannot lock {}: {e}",
                    lock_path.display()
                )));
            }
        }

        let db_path = data_dir.join(DB_FILE);
        let mut conn = open_connection(&db_path, false)?;
        migrate(&mut conn)?;
        if let Some(pages) = max_pages {
            conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
                .map_err(db_err)?;
        }
        let last: u64 = conn
            .query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|p| p.max(0) as u64)
            .map_err(db_err)?;

        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let closing = Arc::new(AtomicBool::new(false));
        let (committed_tx, committed_rx) = watch::channel(last);
        let writer = std::thread::Builder::new()
            .name("saring-store-writer".into())
            .spawn({
                let db_path = db_path.clone();
                let closing = Arc::clone(&closing);
                // The writer thread owns the folder lock, so the folder stays locked for
                // exactly as long as anything may still write to it.
                move || {
                    Writer::new(conn, last, committed_tx).run(receiver, &db_path, &closing);
                    drop(lock_file);
                }
            })
            .map_err(|e| StoreError::Backend(format!("cannot start writer thread: {e}")))?;

        Ok(SqliteStore {
            inner: Arc::new(Inner {
                db_path,
                data_dir: data_dir.to_path_buf(),
                sender: Mutex::new(Some(sender)),
                closing,
                queued: tokio::sync::Semaphore::new(QUEUE_KIB as usize),
                writer: Mutex::new(Some(writer)),
                closing_guard: Mutex::new(()),
                committed: committed_rx,
                readers: Mutex::new(Vec::new()),
                burnt: burned::Remembered::default(),
            }),
        })
    }

    /// The data folder this store lives in.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// Stops taking appends, waits until every queued append is committed and answered, stops
    /// the writer thread and releases the data folder. Blocks the calling thread while the
    /// queue is committed (a few batches at most); appends that were still waiting for room in
    /// the queue get [`StoreError::Closed`]. Later calls do nothing. Live subscriptions end with
    /// [`StoreError::Closed`].
    pub fn close(&self) {
        self.inner.shutdown();
    }

    /// Position of the last committed event, 0 when the store is empty.
    pub fn last_position(&self) -> u64 {
        *self.inner.committed.borrow()
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.inner.shutdown();
    }
}

impl Inner {
    fn shutdown(&self) {
        let _one_at_a_time = self.closing_guard.lock();
        // The flag first: a writer that finds its queue full will see it after the next batch;
        // one parked on an empty queue is woken by the message. Either way it closes the queue,
        // answers what was queued and exits, without waiting for tasks still trying to send
        // (which may need the very thread that is blocked here).
        self.closing.store(true, Ordering::SeqCst);
        let sender = self.sender.lock().take();
        if let Some(sender) = sender {
            let _ = sender.try_send(Message::Close);
        }
        let handle = self.writer.lock().take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("event store writer thread panicked");
        }
        self.readers.lock().clear();
    }

    fn is_closed(&self) -> bool {
        self.sender.lock().is_none()
    }

    /// Runs `f` with a pooled reader connection on the blocking thread pool.
    async fn with_reader<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        if self.is_closed() {
            return Err(StoreError::Closed);
        }
        let inner = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = match inner.readers.lock().pop() {
                Some(c) => c,
                None => open_connection(&inner.db_path, true)?,
            };
            let result = f(&conn);
            let mut pool = inner.readers.lock();
            if pool.len() < READER_POOL_SIZE && !inner.is_closed() {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("reader task failed: {e}")))?
    }

    async fn read_all(
        self: &Arc<Self>,
        from: u64,
        max: usize,
        skip: Option<SkipStreams>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let from = to_sql_u64(from);
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        self.with_reader(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT position, stream, revision, id, event_type, schema_version, \
                     recorded_at, data, metadata FROM events WHERE position >= ?1 \
                     ORDER BY position LIMIT ?2",
                )
                .map_err(db_err)?;
            collect_rows(
                stmt.query(params![from, limit]).map_err(db_err)?,
                skip.as_deref(),
            )
        })
        .await
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let (encoded, bytes) = encode_append(stream, events)?;
        let kib = u32::try_from(bytes / 1024 + 1)
            .unwrap_or(QUEUE_KIB)
            .min(QUEUE_KIB);
        let _room = self
            .inner
            .queued
            .acquire_many(kib)
            .await
            .map_err(|_| StoreError::Closed)?;
        let sender = self.inner.sender.lock().clone().ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Message::Append(AppendRequest {
                stream: stream.to_owned(),
                expected,
                events: encoded,
                bytes,
                reply,
            }))
            .await
            .map_err(|_| StoreError::Closed)?;
        drop(sender);
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        validate_stream_name(stream)?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let stream = stream.to_owned();
        let from = to_sql_u64(from_revision);
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        self.inner
            .with_reader(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT position, stream, revision, id, event_type, schema_version, \
                         recorded_at, data, metadata FROM events \
                         WHERE stream = ?1 AND revision >= ?2 ORDER BY revision LIMIT ?3",
                    )
                    .map_err(db_err)?;
                collect_rows(
                    stmt.query(params![stream, from, limit]).map_err(db_err)?,
                    None,
                )
            })
            .await
    }

    async fn read_all(
        &self,
        from_position: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(from_position, max, None).await
    }

    /// Skipped submissions' data is not even parsed.
    async fn read_all_skipping(
        &self,
        from_position: u64,
        max: usize,
        skip: SkipStreams,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(from_position, max, Some(skip)).await
    }

    async fn subscribe_all(&self, from_position: u64) -> Result<EventStream, StoreError> {
        if self.inner.is_closed() {
            return Err(StoreError::Closed);
        }
        let state = Subscription {
            inner: Arc::clone(&self.inner),
            next: from_position,
            buffer: VecDeque::new(),
            committed: self.inner.committed.clone(),
            done: false,
        };
        Ok(Box::pin(futures::stream::unfold(
            state,
            Subscription::next_item,
        )))
    }

    async fn head_position(&self) -> Result<Option<u64>, StoreError> {
        // The writer publishes every commit's last position; nothing to ask the file.
        Ok(Some(self.last_position()).filter(|&p| p > 0))
    }

    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    /// The `captcha_burned` table of this database: one process, but burnt tokens must outlive
    /// it, or a restart would let a burnt token be tried again.
    fn shared_burned_tokens(&self) -> Option<Arc<dyn crate::captcha::SharedBurnedTokens>> {
        Some(Arc::new(burned::SqliteBurnedTokens {
            inner: Arc::clone(&self.inner),
        }))
    }
}

/// The state of one subscription: where it is and at most one page of events read ahead.
struct Subscription {
    inner: Arc<Inner>,
    next: u64,
    buffer: VecDeque<RecordedEvent>,
    committed: watch::Receiver<u64>,
    done: bool,
}

impl Subscription {
    async fn next_item(mut self) -> Option<(Result<RecordedEvent, StoreError>, Self)> {
        if self.done {
            return None;
        }
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.next = event.position.saturating_add(1);
                return Some((Ok(event), self));
            }
            // Mark the current value seen before reading, so a commit that lands after the read
            // still wakes `changed()` below: no notification can be lost between the two.
            let latest = *self.committed.borrow_and_update();
            if latest >= self.next {
                match self
                    .inner
                    .read_all(self.next, SUBSCRIPTION_PAGE, None)
                    .await
                {
                    Ok(events) if !events.is_empty() => {
                        self.buffer.extend(events);
                        continue;
                    }
                    // Positions are never reused, so a committed position above `next` with
                    // nothing to read means nothing at or after `next` exists yet.
                    Ok(_) => {}
                    Err(e) => {
                        self.done = true;
                        return Some((Err(e), self));
                    }
                }
                if *self.committed.borrow() > latest {
                    continue;
                }
            }
            if self.committed.changed().await.is_err() {
                self.done = true;
                return Some((Err(StoreError::Closed), self));
            }
        }
    }
}

/// The single writing connection and the group-commit loop.
struct Writer {
    conn: Connection,
    /// Position the next event will get.
    next_position: u64,
    committed: watch::Sender<u64>,
    /// When expired burnt tokens were last deleted (Unix ms).
    last_purge_ms: i64,
}

/// What the writer decided for one append inside a batch.
type Outcome = Result<AppendResult, StoreError>;

impl Writer {
    fn new(conn: Connection, last: u64, committed: watch::Sender<u64>) -> Self {
        Writer {
            conn,
            next_position: last + 1,
            committed,
            last_purge_ms: 0,
        }
    }

    fn run(mut self, mut queue: mpsc::Receiver<Message>, db_path: &Path, closing: &AtomicBool) {
        let checkpointer = match open_connection(db_path, false) {
            Ok(conn) => Checkpointer::start(
                "saring-store-checkpoint",
                conn,
                CHECKPOINT_INTERVAL,
                Arc::new(AtomicBool::new(false)),
            ),
            Err(e) => Checkpointer::none(&e),
        };
        let mut batch: Vec<AppendRequest> = Vec::new();
        let mut burns: Vec<burned::BurnRequest> = Vec::new();
        // How many appends recent batches carried, decaying: the number of busy writers.
        let mut recent = 0usize;
        while let Some(message) = queue.blocking_recv() {
            let mut bytes = 0;
            match message {
                Message::Append(first) => {
                    bytes = first.bytes;
                    batch.push(first);
                }
                Message::Burn(burn) => burns.push(burn),
                Message::Close => {
                    // Refuse new appends; those already queued are still committed below.
                    queue.close();
                    continue;
                }
            }
            let linger_until = Instant::now() + LINGER;
            loop {
                while batch.len() + burns.len() < MAX_BATCH_APPENDS && bytes < MAX_BATCH_BYTES {
                    match queue.try_recv() {
                        Ok(Message::Append(req)) => {
                            bytes += req.bytes;
                            batch.push(req);
                        }
                        Ok(Message::Burn(burn)) => burns.push(burn),
                        Ok(Message::Close) => queue.close(),
                        Err(_) => break,
                    }
                }
                // Writers answered by the last commit are still sending their next append;
                // waiting a moment for them puts them in this fsync instead of the next one.
                // A lone writer (recent batches of one) never waits.
                let queued = batch.len() + burns.len();
                let full = queued >= MAX_BATCH_APPENDS || bytes >= MAX_BATCH_BYTES;
                if full
                    || queued >= recent
                    || closing.load(Ordering::SeqCst)
                    || Instant::now() >= linger_until
                {
                    break;
                }
                std::thread::sleep(LINGER_STEP);
            }
            recent = (batch.len() + burns.len()).max(recent - recent / 8);
            self.commit_batch(&mut batch, &mut burns);
            if closing.load(Ordering::SeqCst) {
                queue.close();
            }
        }
        drop(checkpointer);
        // Let SQLite fold the WAL into the database so the next open starts quickly.
        if let Err(e) = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
            tracing::warn!("checkpoint on close failed: {e}");
        }
    }

    fn commit_batch(
        &mut self,
        batch: &mut Vec<AppendRequest>,
        burns: &mut Vec<burned::BurnRequest>,
    ) {
        let start_position = self.next_position;
        let last_purge_ms = self.last_purge_ms;
        let (outcomes, burnt): (Vec<Outcome>, Vec<Result<bool, StoreError>>) =
            match self.write_batch(batch, burns) {
                Ok((outcomes, burnt)) => {
                    let last = self.next_position - 1;
                    if last >= start_position {
                        self.committed.send_replace(last);
                    }
                    (outcomes, burnt.into_iter().map(Ok).collect())
                }
                Err(e) => {
                    // The transaction rolled back: nothing of this batch is stored.
                    self.next_position = start_position;
                    self.last_purge_ms = last_purge_ms;
                    tracing::error!("event store batch commit failed: {e}");
                    let failed = append_failure(e);
                    (
                        batch.iter().map(|_| Err(failed())).collect(),
                        burns.iter().map(|_| Err(failed())).collect(),
                    )
                }
            };
        for (req, outcome) in batch.drain(..).zip(outcomes) {
            // The caller may have given up waiting; the append stands either way.
            let _ = req.reply.send(outcome);
        }
        for (req, outcome) in burns.drain(..).zip(burnt) {
            let _ = req.reply.send(outcome);
        }
    }

    /// Writes a batch in one transaction. A conflicting append is refused before it writes
    /// anything, so it fails alone; a database error aborts the whole transaction and fails
    /// every append of the batch, since none of them is stored.
    ///
    /// Burnt captcha tokens ride in the same transaction: each answers whether it was burnt
    /// already.
    fn write_batch(
        &mut self,
        batch: &[AppendRequest],
        burns: &[burned::BurnRequest],
    ) -> Result<(Vec<Outcome>, Vec<bool>), rusqlite::Error> {
        let recorded_at = Utc::now().timestamp_micros();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for req in batch {
            outcomes.push(append_one(&tx, req, &mut self.next_position, recorded_at)?);
        }
        let mut burnt = Vec::with_capacity(burns.len());
        for req in burns {
            let purge_due = req.now_ms.saturating_sub(self.last_purge_ms) >= burned::PURGE_EVERY;
            if purge_due {
                self.last_purge_ms = req.now_ms;
            }
            burnt.push(burned::write_burn(&tx, req, purge_due)?);
        }
        tx.commit()?;
        Ok((outcomes, burnt))
    }
}

/// Checks one append's expected revision and, if it holds, inserts its events; the outer error
/// is a database failure, the inner one a conflict or a full stream (nothing written).
fn append_one(
    conn: &Connection,
    req: &AppendRequest,
    next_position: &mut u64,
    recorded_at: i64,
) -> Result<Outcome, rusqlite::Error> {
    let current: Option<i64> = conn
        .prepare_cached("SELECT MAX(revision) FROM events WHERE stream = ?1")?
        .query_row(params![req.stream], |r| r.get(0))
        .optional()?
        .flatten();
    let actual = match current {
        Some(r) => ActualRevision::Exact(r.max(0) as u64),
        None => ActualRevision::NoStream,
    };
    if !req.expected.is_satisfied_by(actual) {
        return Ok(Err(StoreError::Conflict {
            stream: req.stream.clone(),
            expected: req.expected,
            actual,
        }));
    }
    if let Err(full) = super::check_stream_room(&req.stream, actual, req.events.len()) {
        return Ok(Err(full));
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO events (position, stream, revision, id, event_type, schema_version, \
         recorded_at, data, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut result = AppendResult {
        next_revision: actual.next(),
        position: *next_position,
    };
    for (revision, e) in (actual.next()..).zip(&req.events) {
        let position = *next_position;
        insert.execute(params![
            to_sql_u64(position),
            req.stream,
            to_sql_u64(revision),
            &e.id.as_bytes()[..],
            e.event_type,
            i64::from(e.schema_version),
            recorded_at,
            e.data,
            e.metadata,
        ])?;
        result = AppendResult {
            next_revision: revision,
            position,
        };
        *next_position += 1;
    }
    Ok(Ok(result))
}

/// Bounds what SQLite holds in memory for the whole process (its soft heap limit), `0` lifting
/// the bound. Every connection of the log, the projection file and the key file keeps up to its
/// own `cache_size` of pages, and together they grow to about 60 MiB on a large store; past
/// the bound each connection reuses its least recently used pages instead of allocating, and a
/// page it no longer holds comes back from the OS page cache. Nothing fails at the bound (the
/// soft limit never refuses an allocation). Set after a bulk build, whose large cache is what
/// makes it fast.
pub fn limit_memory(bytes: u64) -> Result<(), StoreError> {
    let conn = Connection::open_in_memory().map_err(db_err)?;
    let limit = i64::try_from(bytes).unwrap_or(i64::MAX);
    conn.query_row(&format!("PRAGMA soft_heap_limit={limit}"), [], |_| Ok(()))
        .map_err(db_err)
}

/// Opens a connection with the settings every connection of the store needs.
fn open_connection(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        StoreError::Backend(format!("cannot open database {}: {e}", path.display()))
    })?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(db_err)?;
    conn.set_prepared_statement_cache_capacity(16);
    super::sqlite_plans::plan_once(&conn).map_err(db_err)?;
    if !read_only {
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(db_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "cannot switch {} to WAL mode",
                path.display()
            )));
        }
        // FULL: every commit fsyncs the WAL, so an acknowledged append survives power loss.
        conn.execute_batch(&format!(
            "PRAGMA synchronous=FULL; PRAGMA cache_size=-16384; \
             PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}; \
             PRAGMA journal_size_limit=67108864;"
        ))
        .map_err(db_err)?;
    }
    Ok(conn)
}

/// Brings the schema to [`SCHEMA_VERSION`], one step per version, each in its own transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_err)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Backend(format!(
            "the database was written by a newer Saring (schema {version}, this one knows up to \
             {SCHEMA_VERSION}); upgrade Saring"
        )));
    }
    if version < 1 {
        let tx = conn.transaction().map_err(db_err)?;
        tx.execute_batch(
            "CREATE TABLE events (
                position       INTEGER PRIMARY KEY,
                stream         TEXT    NOT NULL,
                revision       INTEGER NOT NULL,
                id             BLOB    NOT NULL,
                event_type     TEXT    NOT NULL,
                schema_version INTEGER NOT NULL,
                recorded_at    INTEGER NOT NULL,
                data           TEXT    NOT NULL,
                metadata       TEXT    NOT NULL
            );
            CREATE UNIQUE INDEX events_stream_revision ON events (stream, revision);
            PRAGMA user_version = 1;",
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
    }
    if version < 2 {
        // Burnt captcha tokens (see `burned`): state with an expiry, not events. WITHOUT ROWID
        // keeps a row in the primary-key tree itself, so a lookup is one B-tree search.
        let tx = conn.transaction().map_err(db_err)?;
        tx.execute_batch(
            "CREATE TABLE captcha_burned (
                nonce      BLOB    PRIMARY KEY,
                expires_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX captcha_burned_expires_at ON captcha_burned (expires_at);
            PRAGMA user_version = 2;",
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
    }
    Ok(())
}

/// Decodes rows until they run out or [`READ_BUDGET_BYTES`] of data have been read.
/// The submissions of the streams `skip` names come back with `null` data, unparsed
/// ([`EventStore::read_all_skipping`]).
fn collect_rows(
    mut rows: rusqlite::Rows<'_>,
    skip: Option<&(dyn for<'s> Fn(&'s str) -> bool + Send + Sync)>,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut out = Vec::new();
    let mut bytes = 0;
    while let Some(row) = rows.next().map_err(db_err)? {
        let (event, size) = decode_row(row, skip)?;
        out.push(event);
        bytes += size;
        if bytes >= READ_BUDGET_BYTES {
            break;
        }
    }
    Ok(out)
}

/// One stored event and the size of its data and metadata text.
fn decode_row(
    row: &rusqlite::Row<'_>,
    skip: Option<&(dyn for<'s> Fn(&'s str) -> bool + Send + Sync)>,
) -> Result<(RecordedEvent, usize), StoreError> {
    let position: i64 = row.get(0).map_err(db_err)?;
    let stream: String = row.get(1).map_err(db_err)?;
    let event_type: String = row.get(4).map_err(db_err)?;
    let corrupt = |what: &str| StoreError::Backend(format!("event at position {position}: {what}"));
    let id: Vec<u8> = row.get(3).map_err(db_err)?;
    let schema_version: i64 = row.get(5).map_err(db_err)?;
    let recorded_at: i64 = row.get(6).map_err(db_err)?;
    let data: String = row.get(7).map_err(db_err)?;
    let metadata: String = row.get(8).map_err(db_err)?;
    let size = data.len() + metadata.len();
    let skipped = event_type == SUBMITTED && skip.is_some_and(|skip| skip(&stream));
    let event = RecordedEvent {
        id: Uuid::from_slice(&id).map_err(|_| corrupt("bad event id"))?,
        stream,
        revision: row.get::<_, i64>(2).map_err(db_err)?.max(0) as u64,
        position: position.max(0) as u64,
        event_type,
        schema_version: u32::try_from(schema_version).map_err(|_| corrupt("bad schema version"))?,
        recorded_at: DateTime::<Utc>::from_timestamp_micros(recorded_at)
            .ok_or_else(|| corrupt("bad recorded time"))?,
        data: if skipped {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&data).map_err(|e| corrupt(&format!("bad data: {e}")))?
        },
        metadata: serde_json::from_str::<EventMetadata>(&metadata)
            .map_err(|e| corrupt(&format!("bad metadata: {e}")))?,
    };
    Ok((event, size))
}

/// SQLite integers are signed; positions and revisions beyond `i64::MAX` cannot occur in practice
/// and saturate rather than wrap.
fn to_sql_u64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("sqlite: {e}"))
}

/// What every append of a failed batch is answered: a full disk (`SQLITE_FULL`, also what a
/// `max_page_count` limit gives) is its own error, so that clients get `503 storage_full` and
/// the operator a clear log line rather than an `internal` error.
fn append_failure(e: rusqlite::Error) -> impl Fn() -> StoreError {
    let full = e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull);
    let message = e.to_string();
    let cause: Arc<dyn std::error::Error + Send + Sync> = Arc::new(e);
    move || {
        if full {
            StoreError::StorageFull {
                backend: "sqlite",
                source: Arc::clone(&cause),
            }
        } else {
            StoreError::Backend(message.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use serde_json::json;

    fn ev(n: u64) -> NewEvent {
        NewEvent::new("Numbered", json!({ "n": n }))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_disk_refuses_appends_as_storage_full_and_keeps_what_was_acknowledged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open_with_page_limit(dir.path(), Some(200)).expect("open");
        let big = |n: u64| NewEvent::new("Numbered", json!({ "n": n, "pad": "x".repeat(50_000) }));
        let mut acknowledged = Vec::new();
        let refusal = loop {
            let n = acknowledged.len() as u64;
            match store
                .append(&format!("s-{n}"), ExpectedRevision::NoStream, vec![big(n)])
                .await
            {
                Ok(done) => acknowledged.push(done.position),
                Err(e) => break e,
            }
            assert!(n < 1_000, "200 pages never filled up");
        };
        assert!(refusal.is_storage_full(), "{refusal:?}");
        assert!(!acknowledged.is_empty());
        let stored = store.read_all(1, 10_000).await.expect("read back");
        assert_eq!(
            stored.iter().map(|e| e.position).collect::<Vec<_>>(),
            acknowledged,
            "every acknowledged append is there, and nothing of the refused one"
        );
        store.close();
        drop(store);

        // Room again (here: no limit): appends go on where the log stopped.
        let store = SqliteStore::open(dir.path()).expect("reopen");
        let next = store
            .append("after", ExpectedRevision::NoStream, vec![ev(0)])
            .await
            .expect("append once there is room");
        assert_eq!(next.position, acknowledged.last().unwrap() + 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reopening_keeps_events_and_continues_positions() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let first = store
            .append("s", ExpectedRevision::NoStream, vec![ev(0), ev(1)])
            .await
            .expect("append");
        store.close();
        assert!(matches!(
            store.append("s", ExpectedRevision::Any, vec![ev(9)]).await,
            Err(StoreError::Closed)
        ));
        drop(store);

        let store = SqliteStore::open(dir.path()).expect("reopen");
        assert_eq!(store.last_position(), first.position);
        let next = store
            .append("s", ExpectedRevision::Exact(1), vec![ev(2)])
            .await
            .expect("append after reopen");
        assert_eq!(next.next_revision, 2);
        assert!(next.position > first.position);
        let all = store.read_stream("s", 0, 10).await.expect("read");
        assert_eq!(
            all.iter().map(|e| e.data["n"].clone()).collect::<Vec<_>>(),
            [json!(0), json!(1), json!(2)]
        );
    }

    #[test]
    fn a_database_from_a_newer_saring_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        drop(SqliteStore::open(dir.path()).expect("create"));
        let conn = Connection::open(dir.path().join(DB_FILE)).expect("raw open");
        conn.execute_batch("PRAGMA user_version = 99;")
            .expect("bump version");
        drop(conn);
        match SqliteStore::open(dir.path()) {
            Err(StoreError::Backend(msg)) => assert!(msg.contains("newer Saring"), "{msg}"),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("opened a database with an unknown schema"),
        }
        // The refused open released the folder again.
        let conn = Connection::open(dir.path().join(DB_FILE)).expect("raw open");
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};"))
            .expect("restore version");
        drop(conn);
        SqliteStore::open(dir.path()).expect("open after restoring the version");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn subscriptions_end_with_closed_when_the_store_closes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path()).expect("open");
        store
            .append("s", ExpectedRevision::Any, vec![ev(0)])
            .await
            .expect("append");
        let mut sub = store.subscribe_all(0).await.expect("subscribe");
        assert_eq!(
            sub.next().await.expect("event").expect("ok").data["n"],
            json!(0)
        );
        let closer = tokio::task::spawn_blocking(move || store.close());
        let end = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("ends");
        assert!(matches!(end, Some(Err(StoreError::Closed))), "{end:?}");
        assert!(sub.next().await.is_none());
        closer.await.expect("close");
    }

    /// Only submissions of the streams named are left unread (unparsed, `null`), in place.
    #[tokio::test]
    async fn a_read_skipping_submissions_leaves_only_those_unread() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path()).expect("open");
        for (stream, kind) in [("a", SUBMITTED), ("b", SUBMITTED), ("a", "Numbered")] {
            let e = NewEvent::new(kind, json!({ "n": 1 }));
            store
                .append(stream, ExpectedRevision::Any, vec![e])
                .await
                .expect("append");
        }
        let page = store
            .read_all_skipping(0, 10, Arc::new(|stream: &str| stream == "a"))
            .await
            .expect("read");
        let data: Vec<_> = page.iter().map(|e| (e.position, e.data.clone())).collect();
        assert_eq!(
            data,
            [
                (1, json!(null)),
                (2, json!({ "n": 1 })),
                (3, json!({ "n": 1 }))
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pages_of_large_events_are_bounded_by_bytes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let big = "x".repeat(1_000_000);
        for i in 0..20u64 {
            let e = NewEvent::new("Big", json!({ "i": i, "body": big }));
            store
                .append("big", ExpectedRevision::Any, vec![e])
                .await
                .expect("append");
        }
        let page = store.read_all(0, 100).await.expect("read");
        assert!(
            !page.is_empty() && page.len() < 20,
            "page of {} events",
            page.len()
        );
        let rest = store
            .read_all(page[page.len() - 1].position + 1, 100)
            .await
            .expect("read");
        assert_eq!(page.len() + rest.len(), 20);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn oversized_appends_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let big = "x".repeat(crate::store::MAX_APPEND_BYTES);
        let res = store
            .append(
                "s",
                ExpectedRevision::Any,
                vec![NewEvent::new("Big", json!(big))],
            )
            .await;
        assert!(matches!(res, Err(StoreError::Invalid(_))), "{res:?}");
        assert!(store.read_stream("s", 0, 1).await.expect("read").is_empty());
    }

    /// Closing from the only runtime thread while more appends are waiting than the queue holds
    /// must not deadlock: the writer drains what is queued and the rest get `Closed`.
    #[test]
    fn close_on_a_single_threaded_runtime_with_a_full_queue_returns() {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let outcome = rt.block_on(async {
                let dir = tempfile::tempdir().expect("temp dir");
                let store = Arc::new(SqliteStore::open(dir.path()).expect("open"));
                // Another connection holds the write lock, so the writer stalls (within its busy
                // timeout) and the queue fills up.
                let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
                let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
                let db = dir.path().join(DB_FILE);
                let blocker = std::thread::spawn(move || {
                    let conn = Connection::open(db).expect("raw open");
                    conn.execute_batch("BEGIN IMMEDIATE;")
                        .expect("take write lock");
                    held_tx.send(()).expect("signal");
                    let _ = release_rx.recv();
                    conn.execute_batch("COMMIT;").expect("release write lock");
                });
                held_rx.recv().expect("lock taken");
                let mut tasks = Vec::new();
                // The writer holds up to one batch while it waits for the lock, the queue the rest.
                for i in 0..((QUEUE_CAPACITY + MAX_BATCH_APPENDS) as u64 + 500) {
                    let store = Arc::clone(&store);
                    tasks.push(tokio::spawn(async move {
                        store
                            .append(&format!("s-{}", i % 7), ExpectedRevision::Any, vec![ev(i)])
                            .await
                    }));
                }
                // Let the tasks run until the queue is full and some wait to send.
                for _ in 0..100_000 {
                    let room = store
                        .inner
                        .sender
                        .lock()
                        .as_ref()
                        .map_or(0, |s| s.capacity());
                    if room == 0 {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                let room = store
                    .inner
                    .sender
                    .lock()
                    .as_ref()
                    .map_or(1, |s| s.capacity());
                assert_eq!(room, 0, "the queue never filled up");
                release_tx.send(()).expect("release");
                store.close();
                blocker.join().expect("blocker");
                let (mut ok, mut closed) = (0, 0);
                for t in tasks {
                    match t.await.expect("task") {
                        Ok(_) => ok += 1,
                        Err(StoreError::Closed) => closed += 1,
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
                let reopened = SqliteStore::open(dir.path()).expect("reopen");
                (ok, closed, reopened.last_position())
            });
            let _ = done_tx.send(outcome);
        });
        let (ok, closed, stored) = done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("close deadlocked");
        assert_eq!(ok + closed, QUEUE_CAPACITY + MAX_BATCH_APPENDS + 500);
        assert_eq!(
            ok as u64, stored,
            "every answered append is stored, no other"
        );
    }
}
