//! The PostgreSQL backend, for deployments with several Saring replicas on one database.
//!
//! **Client.** `tokio-postgres` with a `deadpool-postgres` pool: a plain async client that speaks
//! the binary protocol, supports `LISTEN/NOTIFY` on a connection we drive ourselves, and adds no
//! compile-time query checking that would need a database at build time (as `sqlx`'s macros do).
//!
//! **The hazard, and how it is solved.** A PostgreSQL event store that takes positions from a
//! sequence lets transaction A take position 10, transaction B take 11, and B commit first. A
//! subscriber that reads at that moment sees 11, moves its checkpoint past 10, and never sees A's
//! event when A commits a moment later: an event silently skipped. Here every append transaction
//! first takes one transaction-scoped advisory lock (`pg_advisory_xact_lock`), and only then reads
//! the last position and assigns the next ones. PostgreSQL makes a transaction visible before it
//! releases its locks, so the next writer can only take positions after the previous one is
//! visible to everyone: positions become visible strictly in order, and `position >= n` never
//! misses anything below a position already seen. The price is that appends are serialised
//! across all replicas; each process gets its throughput back by group commit (one writer task
//! per process commits every append waiting at that moment in one transaction, each append's
//! expected revision checked inside it, so a conflicting append fails alone). The alternative,
//! a high-water mark by transaction visibility (Marten, Eventuous), keeps writers parallel but
//! needs readers to wait or guess around in-flight transactions; the lock is simpler to get
//! right and gap-free, and throughput is measured in `docs/store.md`.
//!
//! **Subscriptions** read pages with `position >= next` and wait for a hint: the local writer's
//! last commit, or a `NOTIFY saring_events` that every append sends (other replicas' commits). A
//! dedicated connection listens and reconnects by itself; because a notification can be missed
//! while it reconnects, subscriptions also poll every [`POLL_INTERVAL`]. A subscription survives
//! the database going away: it retries its read with a backoff and goes on where it was.
//!
//! **Connection loss.** While the database is unreachable, operations fail with
//! [`StoreError::Unavailable`] (the HTTP layer answers `503`); the pool makes new connections as
//! soon as it is back, so the service recovers by itself. An append whose `COMMIT` was cut off
//! may or may not be stored: it is reported as unavailable, never as success, so nothing
//! acknowledged is ever lost, and a retry with the same expected revision sees the truth.
//!
//! **TLS.** `sslmode` and `sslrootcert` keep libpq's meanings (see [`tls`]): `verify-full` with
//! the database's CA is what a connection across a network should use.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use futures::TryStreamExt;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Config};
use tokio_postgres_rustls::MakeRustlsConnect;
use uuid::Uuid;

use super::{
    ActualRevision, AppendResult, EncodedEvent, EventMetadata, EventStore, EventStream,
    ExpectedRevision, NewEvent, RecordedEvent, StoreError, encode_append, validate_stream_name,
};

pub(crate) mod keys;
mod tls;

/// Connection-string schemes that select this backend.
pub const SCHEMES: [&str; 2] = ["postgres", "postgresql"];

/// The schema version this code writes; older schemas are migrated on connect.
const SCHEMA_VERSION: i32 = 4;
/// Advisory lock every append transaction takes before assigning positions (see module docs).
/// Any constant works as long as every Saring uses the same: these are "SARING" and a number.
const APPEND_LOCK: i64 = 0x5341_5249_4e47_0001;
/// Advisory lock that serialises schema migrations of replicas starting at once.
const MIGRATE_LOCK: i64 = 0x5341_5249_4e47_0002;
/// The `NOTIFY` channel; the payload is the last position committed.
const CHANNEL: &str = "saring_events";
/// Pooled connections per process (the writer uses one, readers the rest).
const POOL_SIZE: usize = 16;
/// Appends waiting for the writer task before `append` callers wait for room.
const QUEUE_CAPACITY: usize = 4096;
/// Most appends committed in one transaction.
const MAX_BATCH_APPENDS: usize = 1024;
/// Most serialised bytes committed in one transaction.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
/// Bytes of event data one read returns at most (always at least one event).
const READ_BUDGET_BYTES: usize = 16 * 1024 * 1024;
/// Events a subscription reads at a time.
const SUBSCRIPTION_PAGE: usize = 512;
/// How often an idle subscription reads anyway, in case a notification was missed.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Longest wait for a new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time one operation (a read, or a batch of appends) may take before it is reported
/// as unavailable; bounds the wait on a connection to a host that vanished without a reset.
const OP_TIMEOUT: Duration = Duration::from_secs(30);
/// First wait before a subscription or the listener retries; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The backend name in errors and logs.
const BACKEND: &str = "postgres";

/// The PostgreSQL event store. Cheap to share behind an `Arc`; see the module docs.
pub struct PostgresStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PostgresStore {
    // Never show the connection settings: they may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

/// State shared with the writer, the listener and subscriptions.
struct Inner {
    pool: Pool,
    /// Taken out on close, which ends the writer task after it has answered its queue.
    sender: Mutex<Option<mpsc::Sender<AppendRequest>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    listener: JoinHandle<()>,
    /// The highest position known to be committed, by this process or by a notification;
    /// a wake-up hint for subscriptions, never a bound on what they read.
    hint: watch::Receiver<u64>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// One append travelling to the writer task, serialised on the caller's task.
struct AppendRequest {
    stream: String,
    expected: ExpectedRevision,
    events: Vec<EncodedEvent>,
    bytes: usize,
    reply: oneshot::Sender<Result<AppendResult, StoreError>>,
}

/// An operation that took longer than [`OP_TIMEOUT`].
#[derive(Debug, thiserror::Error)]
#[error("no answer from PostgreSQL within {0:?}")]
pub struct TimedOut(Duration);

impl PostgresStore {
    /// Whether `s` is a PostgreSQL connection URL (`postgres://…` or `postgresql://…`).
    pub fn accepts(s: &str) -> bool {
        s.split_once("://")
            .is_some_and(|(scheme, _)| SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()))
    }

    /// Connects to the database named by `conn_string` (e.g.
    /// `postgres://saring:secret@db.internal/saring`), creating or migrating the schema, and
    /// starts the writer and listener tasks. Call inside a Tokio runtime.
    ///
    /// Fails with [`StoreError::Invalid`] for a malformed string (the message never repeats it,
    /// since it may hold a password) and [`StoreError::Unavailable`] when the database cannot be
    /// reached. A server certificate refused under `sslmode=verify-ca`/`verify-full` (or
    /// `require` with `sslrootcert`) is [`StoreError::Invalid`] too, naming the mode and the CA:
    /// it is a setting to fix, not an outage to wait out.
    pub async fn connect(conn_string: &str) -> Result<PostgresStore, StoreError> {
        let (mut config, tls) = parse_config(conn_string)?;
        let connector = tls::connector(&tls)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("saring");
        }
        config.keepalives(true);
        let manager = Manager::from_config(
            config.clone(),
            connector.clone(),
            ManagerConfig {
                // A connection the server closed reports itself closed; no query per checkout.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(OP_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Invalid(format!("cannot build the connection pool: {e}")))?;
        {
            let mut client = pool
                .get()
                .await
                .map_err(|e| refused_certificate(&e, &tls).unwrap_or_else(|| pool_err(e)))?;
            migrate(&mut client).await?;
        }
        let (hint_tx, hint_rx) = watch::channel(0u64);
        let hint_tx = Arc::new(hint_tx);
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let writer = tokio::spawn(writer_loop(pool.clone(), receiver, Arc::clone(&hint_tx)));
        let listener = tokio::spawn(listen_loop(config, connector, hint_tx));
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                sender: Mutex::new(Some(sender)),
                writer: Mutex::new(Some(writer)),
                listener,
                hint: hint_rx,
            }),
        })
    }

    /// The connection pool, for the key tables beside the log (`crate::privacy::keys`).
    pub fn pool(&self) -> Pool {
        self.inner.pool.clone()
    }

    /// Stops taking appends, waits until every queued append is committed and answered, and
    /// closes the pool. Later appends and reads fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        drop(self.inner.sender.lock().take());
        let writer = self.inner.writer.lock().take();
        if let Some(writer) = writer
            && let Err(e) = writer.await
        {
            tracing::error!("PostgreSQL writer task failed: {e}");
        }
        self.inner.listener.abort();
        self.inner.pool.close();
    }
}

impl Inner {
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        if self.pool.is_closed() {
            return Err(StoreError::Closed);
        }
        self.pool.get().await.map_err(pool_err)
    }

    async fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let from = to_sql_u64(from);
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        with_timeout(async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT position, stream, revision, id, event_type, schema_version, \
                     recorded_at, data::text, metadata::text FROM saring_events \
                     WHERE position >= $1 ORDER BY position LIMIT $2",
                )
                .await
                .map_err(pg_err)?;
            collect_rows(&client, &stmt, &[&from, &limit]).await
        })
        .await
    }
}

/// Reads a connection string and its TLS settings (`sslmode` with libpq's five values and
/// `sslrootcert`, which `tokio-postgres` alone does not know). The message never repeats the
/// string, since it may hold a password.
fn parse_config(conn_string: &str) -> Result<(Config, tls::TlsSettings), StoreError> {
    let (rest, tls) = tls::split_tls(conn_string)?;
    let mut config: Config = rest.parse().map_err(|e| {
        StoreError::Invalid(format!(
            "the PostgreSQL connection string is malformed: {e}"
        ))
    })?;
    config.ssl_mode(tls.mode.client_mode());
    Ok((config, tls))
}

/// A connection error that is the TLS handshake refusing the server's certificate, as a
/// configuration error naming the mode and the CA it was checked against.
fn refused_certificate(e: &PoolError, tls: &tls::TlsSettings) -> Option<StoreError> {
    let PoolError::Backend(e) = e else {
        return None;
    };
    let why = tls::certificate_refusal(e)?;
    Some(StoreError::Invalid(format!(
        "PostgreSQL's TLS certificate was refused under sslmode={} (CAs from {}): {why}",
        tls.mode.name(),
        tls.ca_source()
    )))
}

/// Runs `f`, reporting it as unavailable if it takes longer than [`OP_TIMEOUT`].
pub(super) async fn with_timeout<T>(
    f: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(r) => r,
        Err(_) => Err(StoreError::Unavailable {
            backend: BACKEND,
            source: Arc::new(TimedOut(OP_TIMEOUT)),
        }),
    }
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let (encoded, bytes) = encode_append(stream, events)?;
        let sender = self.inner.sender.lock().clone().ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(AppendRequest {
                stream: stream.to_owned(),
                expected,
                events: encoded,
                bytes,
                reply,
            })
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
        let from = to_sql_u64(from_revision);
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        with_timeout(async {
            let client = self.inner.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT position, stream, revision, id, event_type, schema_version, \
                     recorded_at, data::text, metadata::text FROM saring_events \
                     WHERE stream = $1 AND revision >= $2 ORDER BY revision LIMIT $3",
                )
                .await
                .map_err(pg_err)?;
            collect_rows(&client, &stmt, &[&stream, &from, &limit]).await
        })
        .await
    }

    async fn read_all(
        &self,
        from_position: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(from_position, max).await
    }

    async fn subscribe_all(&self, from_position: u64) -> Result<EventStream, StoreError> {
        if self.inner.pool.is_closed() {
            return Err(StoreError::Closed);
        }
        let state = Subscription {
            inner: Arc::clone(&self.inner),
            next: from_position,
            buffer: VecDeque::new(),
            hint: self.inner.hint.clone(),
            backoff: FIRST_BACKOFF,
            done: false,
        };
        Ok(Box::pin(futures::stream::unfold(
            state,
            Subscription::next_item,
        )))
    }

    async fn head_position(&self) -> Result<Option<u64>, StoreError> {
        with_timeout(async {
            let client = self.inner.client().await?;
            // The primary key's last entry: one index page, not a scan.
            let row = client
                .query_one("SELECT max(position) FROM saring_events", &[])
                .await
                .map_err(pg_err)?;
            let head: Option<i64> = row.get(0);
            Ok(head.and_then(|p| u64::try_from(p).ok()))
        })
        .await
    }

    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn shared_burned_tokens(&self) -> Option<Arc<dyn crate::captcha::SharedBurnedTokens>> {
        Some(Arc::new(super::burned_pg::PgBurnedTokens::new(
            self.inner.pool.clone(),
        )))
    }
}

/// The state of one subscription: where it is and at most one page read ahead.
struct Subscription {
    inner: Arc<Inner>,
    next: u64,
    buffer: VecDeque<RecordedEvent>,
    hint: watch::Receiver<u64>,
    backoff: Duration,
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
            // Mark the hint seen before reading, so a commit that lands after the read still
            // wakes the wait below.
            self.hint.borrow_and_update();
            match self.inner.read_all(self.next, SUBSCRIPTION_PAGE).await {
                Ok(events) => {
                    self.backoff = FIRST_BACKOFF;
                    if !events.is_empty() {
                        self.buffer.extend(events);
                        continue;
                    }
                }
                Err(e @ StoreError::Unavailable { .. }) => {
                    // The database is away: keep the position and try again, rather than end
                    // the subscription and make every consumer handle the outage.
                    tracing::warn!(error = %e, "subscription read failed; retrying");
                    tokio::time::sleep(self.backoff).await;
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                Err(e) => {
                    self.done = true;
                    return Some((Err(e), self));
                }
            }
            // Positions become visible in order (module docs), so an empty read means nothing
            // at or after `next` is committed yet: wait for a hint, or poll in case a
            // notification was missed.
            if let Ok(Err(_)) = tokio::time::timeout(POLL_INTERVAL, self.hint.changed()).await {
                self.done = true;
                return Some((Err(StoreError::Closed), self));
            }
        }
    }
}

/// What the writer decided for one append inside a batch.
type Outcome = Result<AppendResult, StoreError>;

/// The group-commit loop: takes every append waiting, commits them in one transaction.
async fn writer_loop(
    pool: Pool,
    mut queue: mpsc::Receiver<AppendRequest>,
    hint: Arc<watch::Sender<u64>>,
) {
    let mut batch: Vec<AppendRequest> = Vec::new();
    while let Some(first) = queue.recv().await {
        let mut bytes = first.bytes;
        batch.push(first);
        while batch.len() < MAX_BATCH_APPENDS && bytes < MAX_BATCH_BYTES {
            match queue.try_recv() {
                Ok(req) => {
                    bytes += req.bytes;
                    batch.push(req);
                }
                Err(_) => break,
            }
        }
        let outcomes = match with_timeout(write_batch(&pool, &batch)).await {
            Ok((outcomes, last)) => {
                if let Some(last) = last {
                    hint.send_modify(|v| *v = (*v).max(last));
                }
                outcomes
            }
            Err(e) => {
                // Rolled back, or cut off during COMMIT: either way no append of the batch is
                // acknowledged. The error is shared, since every append of the batch failed of it.
                tracing::error!(error = %e, "PostgreSQL append batch failed");
                let e = Arc::new(e);
                batch.iter().map(|_| Err(share(&e))).collect()
            }
        };
        for (req, outcome) in batch.drain(..).zip(outcomes) {
            // The caller may have given up waiting; the append stands either way.
            let _ = req.reply.send(outcome);
        }
    }
}

/// A copy of a batch's error for each of its appends, keeping the cause.
fn share(e: &Arc<StoreError>) -> StoreError {
    match &**e {
        StoreError::Unavailable { backend, source } => StoreError::Unavailable {
            backend,
            source: Arc::clone(source),
        },
        StoreError::Database { backend, source } => StoreError::Database {
            backend,
            source: Arc::clone(source),
        },
        StoreError::StorageFull { backend, source } => StoreError::StorageFull {
            backend,
            source: Arc::clone(source),
        },
        StoreError::Closed => StoreError::Closed,
        _ => StoreError::Database {
            backend: BACKEND,
            source: Arc::clone(e) as Arc<dyn std::error::Error + Send + Sync>,
        },
    }
}

/// Writes one batch in one transaction under the append lock; returns each append's outcome
/// and the last position written, if any.
async fn write_batch(
    pool: &Pool,
    batch: &[AppendRequest],
) -> Result<(Vec<Outcome>, Option<u64>), StoreError> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let tx = client.transaction().await.map_err(pg_err)?;
    // Held until COMMIT: the next writer anywhere assigns positions only after ours are visible.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&APPEND_LOCK])
        .await
        .map_err(pg_err)?;
    let last: i64 = tx
        .query_one("SELECT COALESCE(MAX(position), 0) FROM saring_events", &[])
        .await
        .map_err(pg_err)?
        .get(0);
    let mut names: Vec<&str> = batch.iter().map(|r| r.stream.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut current: HashMap<String, u64> = HashMap::new();
    let stmt = tx
        .prepare_cached(
            "SELECT stream, MAX(revision) FROM saring_events WHERE stream = ANY($1) \
             GROUP BY stream",
        )
        .await
        .map_err(pg_err)?;
    for row in tx.query(&stmt, &[&names]).await.map_err(pg_err)? {
        let stream: String = row.get(0);
        let revision: i64 = row.get(1);
        current.insert(stream, revision.max(0) as u64);
    }

    let mut next_position = last.max(0) as u64 + 1;
    let mut positions: Vec<i64> = Vec::new();
    let mut streams: Vec<&str> = Vec::new();
    let mut revisions: Vec<i64> = Vec::new();
    let mut ids: Vec<Uuid> = Vec::new();
    let mut types: Vec<&str> = Vec::new();
    let mut versions: Vec<i64> = Vec::new();
    let mut data: Vec<&str> = Vec::new();
    let mut metadata: Vec<&str> = Vec::new();
    let mut outcomes = Vec::with_capacity(batch.len());
    for req in batch {
        let actual = current
            .get(&req.stream)
            .map_or(ActualRevision::NoStream, |r| ActualRevision::Exact(*r));
        if !req.expected.is_satisfied_by(actual) {
            outcomes.push(Err(StoreError::Conflict {
                stream: req.stream.clone(),
                expected: req.expected,
                actual,
            }));
            continue;
        }
        if let Err(full) = super::check_stream_room(&req.stream, actual, req.events.len()) {
            outcomes.push(Err(full));
            continue;
        }
        let mut result = AppendResult {
            next_revision: actual.next(),
            position: next_position,
        };
        for (revision, e) in (actual.next()..).zip(&req.events) {
            positions.push(to_sql_u64(next_position));
            streams.push(&req.stream);
            revisions.push(to_sql_u64(revision));
            ids.push(e.id);
            types.push(&e.event_type);
            versions.push(i64::from(e.schema_version));
            data.push(&e.data);
            metadata.push(&e.metadata);
            result = AppendResult {
                next_revision: revision,
                position: next_position,
            };
            next_position += 1;
        }
        current.insert(req.stream.clone(), result.next_revision);
        outcomes.push(Ok(result));
    }
    let last_written = positions.last().map(|p| *p as u64);
    if let Some(last_written) = last_written {
        let insert = tx
            .prepare_cached(
                "INSERT INTO saring_events (position, stream, revision, id, event_type, \
                 schema_version, data, metadata) \
                 SELECT p, s, r, i, t, v, d::json, m::json FROM UNNEST($1::bigint[], \
                 $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::bigint[], $7::text[], \
                 $8::text[]) AS u(p, s, r, i, t, v, d, m)",
            )
            .await
            .map_err(pg_err)?;
        tx.execute(
            &insert,
            &[
                &positions, &streams, &revisions, &ids, &types, &versions, &data, &metadata,
            ],
        )
        .await
        .map_err(pg_err)?;
        // Delivered to listeners when (and only if) the transaction commits.
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&CHANNEL, &last_written.to_string()],
        )
        .await
        .map_err(pg_err)?;
    }
    tx.commit().await.map_err(pg_err)?;
    Ok((outcomes, last_written))
}

/// Keeps one connection listening on [`CHANNEL`], reconnecting with a backoff, and raises the
/// hint on every notification. Runs until aborted.
async fn listen_loop(config: Config, tls: MakeRustlsConnect, hint: Arc<watch::Sender<u64>>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        if let Err(e) = listen_once(&config, &tls, &hint, &mut backoff).await {
            tracing::warn!(error = %e, "PostgreSQL listener lost; subscriptions poll meanwhile");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn listen_once(
    config: &Config,
    tls: &MakeRustlsConnect,
    hint: &watch::Sender<u64>,
    backoff: &mut Duration,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tls.clone()).await?;
    let (notes_tx, mut notes) = mpsc::unbounded_channel();
    // Notifications arrive as messages of the connection itself, so drive it here.
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.try_next().await? {
            if let AsyncMessage::Notification(n) = message
                && notes_tx.send(n).is_err()
            {
                break;
            }
        }
        Ok::<(), tokio_postgres::Error>(())
    });
    let listening = client.batch_execute(&format!("LISTEN {CHANNEL}")).await;
    if let Err(e) = listening {
        driver.abort();
        return Err(e);
    }
    *backoff = FIRST_BACKOFF;
    // Wake every subscription: commits made while nobody listened sent no hint.
    hint.send_modify(|_| {});
    while let Some(n) = notes.recv().await {
        if let Ok(position) = n.payload().parse::<u64>() {
            hint.send_modify(|v| *v = (*v).max(position));
        }
    }
    drop(client);
    match driver.await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction, under an advisory lock so that
/// replicas starting together migrate one after the other.
async fn migrate(client: &mut deadpool_postgres::Object) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(pg_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .await
        .map_err(pg_err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS saring_schema (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            version  integer NOT NULL
        )",
    )
    .await
    .map_err(pg_err)?;
    let version: i32 = tx
        .query_opt("SELECT version FROM saring_schema", &[])
        .await
        .map_err(pg_err)?
        .map_or(0, |r| r.get(0));
    if version > SCHEMA_VERSION {
        return Err(StoreError::Backend(format!(
            "the database was written by a newer Saring (schema {version}, this one knows up to \
             {SCHEMA_VERSION}); upgrade Saring"
        )));
    }
    if version < 1 {
        // `json`, not `jsonb`: it keeps the text as written (key order, `\u0000` escapes,
        // number spelling), so events read back byte for byte as on the other backends.
        tx.batch_execute(
            "CREATE TABLE saring_events (
                position       bigint      PRIMARY KEY,
                stream         text        NOT NULL,
                revision       bigint      NOT NULL,
                id             uuid        NOT NULL,
                event_type     text        NOT NULL,
                schema_version bigint      NOT NULL,
                recorded_at    timestamptz NOT NULL DEFAULT now(),
                data           json        NOT NULL,
                metadata       json        NOT NULL
            );
            CREATE UNIQUE INDEX saring_events_stream_revision
                ON saring_events (stream, revision);
            INSERT INTO saring_schema (version) VALUES (1)
                ON CONFLICT (only_row) DO UPDATE SET version = 1;",
        )
        .await
        .map_err(pg_err)?;
    }
    if version < 2 {
        // Burnt captcha tokens shared by the replicas (`store::burned_pg`): state with an
        // expiry, not events. The index serves the periodic deletion of expired rows.
        tx.batch_execute(
            "CREATE TABLE captcha_burned (
                nonce      bytea  PRIMARY KEY,
                expires_at bigint NOT NULL
            );
            CREATE INDEX captcha_burned_expires_at ON captcha_burned (expires_at);
            UPDATE saring_schema SET version = 2;",
        )
        .await
        .map_err(pg_err)?;
    }
    if version < 3 {
        // The keys that seal readers' personal fields (`crate::privacy`, [`keys`]): one per
        // author (a digest of the email or address, never the email itself) and one per UTC
        // day for network facts. Deleting a row is how erasure and retention make data
        // unreadable, so these are state, not events.
        tx.batch_execute(
            "CREATE TABLE saring_author_keys (
                author  text   PRIMARY KEY,
                key_id  text   NOT NULL UNIQUE,
                key     bytea  NOT NULL,
                created bigint NOT NULL
            );
            CREATE TABLE saring_day_keys (
                day     text   PRIMARY KEY,
                key_id  text   NOT NULL UNIQUE,
                key     bytea  NOT NULL,
                created bigint NOT NULL
            );
            UPDATE saring_schema SET version = 3;",
        )
        .await
        .map_err(pg_err)?;
    }
    if version < 4 {
        // One key per comment body, so purging a body (retention) deletes what opens it.
        // The identity is the key id the log names: never handed out twice.
        tx.batch_execute(
            "CREATE TABLE saring_body_keys (
                id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                key bytea  NOT NULL
            );
            UPDATE saring_schema SET version = 4;",
        )
        .await
        .map_err(pg_err)?;
    }
    tx.commit().await.map_err(pg_err)
}

/// Streams the rows of `stmt`, stopping once [`READ_BUDGET_BYTES`] of data have been read.
async fn collect_rows(
    client: &deadpool_postgres::Object,
    stmt: &tokio_postgres::Statement,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = client
        .query_raw(stmt, params.iter().copied())
        .await
        .map_err(pg_err)?;
    futures::pin_mut!(rows);
    let mut out = Vec::new();
    let mut bytes = 0;
    while let Some(row) = rows.try_next().await.map_err(pg_err)? {
        let (event, size) = decode_row(&row)?;
        out.push(event);
        bytes += size;
        if bytes >= READ_BUDGET_BYTES {
            break;
        }
    }
    Ok(out)
}

fn decode_row(row: &tokio_postgres::Row) -> Result<(RecordedEvent, usize), StoreError> {
    let position: i64 = row.try_get(0).map_err(pg_err)?;
    let corrupt = |what: &str| StoreError::Backend(format!("event at position {position}: {what}"));
    let schema_version: i64 = row.try_get(5).map_err(pg_err)?;
    let recorded_at: DateTime<Utc> = row.try_get(6).map_err(pg_err)?;
    let data: &str = row.try_get(7).map_err(pg_err)?;
    let metadata: &str = row.try_get(8).map_err(pg_err)?;
    let size = data.len() + metadata.len();
    let event = RecordedEvent {
        id: row.try_get(3).map_err(pg_err)?,
        stream: row.try_get(1).map_err(pg_err)?,
        revision: row.try_get::<_, i64>(2).map_err(pg_err)?.max(0) as u64,
        position: position.max(0) as u64,
        event_type: row.try_get(4).map_err(pg_err)?,
        schema_version: u32::try_from(schema_version).map_err(|_| corrupt("bad schema version"))?,
        recorded_at,
        data: serde_json::from_str(data).map_err(|e| corrupt(&format!("bad data: {e}")))?,
        metadata: serde_json::from_str::<EventMetadata>(metadata)
            .map_err(|e| corrupt(&format!("bad metadata: {e}")))?,
    };
    Ok((event, size))
}

/// PostgreSQL integers are signed; values beyond `i64::MAX` cannot occur and saturate.
fn to_sql_u64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Whether an error means the database is away (connection refused, closed or reset, the server
/// shutting down or not yet accepting), as opposed to a request the database refused.
fn is_connection_error(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        // Class 08: connection exception; 57P01-03: shutting down or not yet up; 53300: too
        // many connections (the server is there but cannot take us now).
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300");
    }
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

/// Maps a client error to [`StoreError::Unavailable`], [`StoreError::StorageFull`] (SQLSTATE
/// 53100, `disk_full`) or [`StoreError::Database`].
pub(super) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    if e.code().is_some_and(|c| c.code() == "53100") {
        StoreError::StorageFull {
            backend: BACKEND,
            source: Arc::new(e),
        }
    } else if is_connection_error(&e) {
        StoreError::Unavailable {
            backend: BACKEND,
            source: Arc::new(e),
        }
    } else {
        StoreError::Database {
            backend: BACKEND,
            source: Arc::new(e),
        }
    }
}

pub(super) fn pool_err(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => pg_err(e),
        PoolError::Closed => StoreError::Closed,
        // Waiting for a connection or making one took too long: the database is away or
        // overwhelmed; either way the request may be retried.
        other @ PoolError::Timeout(_) => StoreError::Unavailable {
            backend: BACKEND,
            source: Arc::new(other),
        },
        other => StoreError::Database {
            backend: BACKEND,
            source: Arc::new(other),
        },
    }
}

/// Test support: creates a fresh, empty database on the server named by `admin_url` (a
/// `postgres://` URL whose user may create databases) and returns a URL for it, so each test
/// runs on its own database and runs do not interfere.
pub async fn create_test_database(admin_url: &str) -> Result<String, StoreError> {
    let (config, tls) = parse_config(admin_url)?;
    let (client, connection) = config
        .connect(tls::connector(&tls)?)
        .await
        .map_err(pg_err)?;
    let driver = tokio::spawn(connection);
    let name = format!("saring_test_{}", Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(pg_err)?;
    drop(client);
    let _ = driver.await;
    with_database(admin_url, &name)
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> Result<String, StoreError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| StoreError::Invalid("a postgres:// URL is needed".into()))?;
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority = before_query
        .split_once('/')
        .map_or(before_query, |(a, _)| a);
    Ok(match query {
        Some(q) => format!("{scheme}://{authority}/{name}?{q}"),
        None => format!("{scheme}://{authority}/{name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::SslMode;

    #[test]
    fn every_libpq_sslmode_is_understood() {
        for (url, mode) in [
            ("postgres://u@h/db?sslmode=disable", SslMode::Disable),
            ("postgres://u@h/db", SslMode::Prefer),
            ("postgres://u@h/db?sslmode=require", SslMode::Require),
            (
                "postgres://u@h/db?sslmode=verify-ca&sslrootcert=/ca.pem",
                SslMode::Require,
            ),
            ("host=h user=u sslmode=verify-full", SslMode::Require),
        ] {
            let (config, _) = parse_config(url).expect(url);
            assert_eq!(config.get_ssl_mode(), mode, "{url}");
        }
        assert!(matches!(
            parse_config("postgres://u@h/db?sslmode=verify"),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn urls_are_recognised_and_get_another_database() {
        assert!(PostgresStore::accepts("postgres://u@h/db"));
        assert!(PostgresStore::accepts("PostgreSQL://u@h/db"));
        assert!(!PostgresStore::accepts("esdb://h:2113"));
        assert!(!PostgresStore::accepts("./data"));
        assert_eq!(
            with_database("postgres://u@h:5/db?sslmode=disable", "x").expect("url"),
            "postgres://u@h:5/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h", "x").expect("url"),
            "postgres://u@h/x"
        );
    }
}
