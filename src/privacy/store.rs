//! The embedded store with sealed submissions: an [`EventStore`] around another that seals the
//! personal fields of every `CommentSubmitted` on append and opens them on read, so the rest
//! of the service sees ordinary events. A submission whose key was erased reads as an erased
//! submission (empty fields, `erased: true`), and so does every copy made from the log
//! afterwards (`export events`, `export wxr`, rebuilt projections). The network facts are
//! sealed apart under the key of the submission's day, so deleting old day keys
//! (`[privacy] network_days`) leaves those submissions with empty network facts. The body is
//! sealed apart under a key of its own ([`EventStore::shred_bodies`] deletes it when the
//! retention pass purges the body).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use parking_lot::Mutex;
use uuid::Uuid;

use super::keys::{Key, Keys, SubmissionKeys};
use super::seal;
use crate::store::{
    AppendResult, EventStore, EventStream, ExpectedRevision, NewEvent, RecordedEvent, SUBMITTED,
    StoreError,
};

/// Events opened on the caller's task at most (when their keys are in memory).
const INLINE_OPEN_MAX: usize = 8;

/// Events of a subscription opened together at most (the inner stores read pages of 512).
const SUBSCRIPTION_CHUNK: usize = 512;

/// Submissions this process sealed whose plain data it keeps at most (about a kilobyte each).
const RECENT_PLAIN_MAX: usize = 2_048;

/// An event store that seals personal fields with per-author keys.
pub struct SealedStore {
    inner: Arc<dyn EventStore>,
    keys: Arc<Keys>,
    recent: Arc<Mutex<RecentPlain>>,
}

impl SealedStore {
    /// Wraps `inner`, sealing with `keys`.
    pub fn new(inner: Arc<dyn EventStore>, keys: Arc<Keys>) -> SealedStore {
        SealedStore {
            inner,
            keys,
            recent: Arc::default(),
        }
    }
}

/// The plain data of the submissions this process sealed last, by event id: the projection
/// follower reads each one back a moment after its append, and taking the plain copy saves
/// opening it (three decryptions and a parse, 4 % of the server's CPU in the reader flow). A
/// copy is used only while memory holds every key the sealed event names (the author's, the
/// day's, the body's), which is exactly when opening it would give the same data: an erasure,
/// a purged body or an expired day key makes the event open as erased, as it does without the
/// copy. Bounded by [`RECENT_PLAIN_MAX`], oldest out first.
#[derive(Default)]
struct RecentPlain {
    by_id: HashMap<Uuid, serde_json::Value>,
    order: VecDeque<Uuid>,
}

impl RecentPlain {
    fn remember(&mut self, id: Uuid, data: serde_json::Value) {
        if self.by_id.insert(id, data).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > RECENT_PLAIN_MAX {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
    }
}

/// Puts the plain copy in place of each sealed submission among `events` that `recent` holds
/// and whose keys are all in memory and not deleted.
fn take_recent_plain(keys: &Keys, recent: &Mutex<RecentPlain>, events: &mut [RecordedEvent]) {
    let recent = recent.lock();
    if recent.by_id.is_empty() {
        return;
    }
    for e in events.iter_mut().filter(|e| e.event_type == SUBMITTED) {
        let Some(plain) = recent.by_id.get(&e.id) else {
            continue;
        };
        // Deleted (`Some(None)`) or not in memory (`None`): open it, which reads as erased or
        // loads the key.
        let intact = |found: Option<Option<Key>>| matches!(found, Some(Some(_)));
        let d = &e.data;
        if seal::sealed_key_id(d).is_some_and(|id| intact(keys.cached_key(id)))
            && seal::sealed_net_key_id(d).is_none_or(|id| intact(keys.cached_key(id)))
            && seal::sealed_body_key_id(d).is_none_or(|id| intact(keys.cached_body_key(id)))
        {
            e.data = plain.clone();
        }
    }
}

/// A key failure as the store's error: PostgreSQL's own (unavailable: `503`) when its key
/// tables failed, a backend failure otherwise.
fn key_failure(e: super::keys::KeyError) -> StoreError {
    e.store_error()
        .unwrap_or_else(|| StoreError::Backend(e.to_string()))
}

fn to_seal(e: &NewEvent) -> bool {
    e.event_type == SUBMITTED && seal::needs_sealing(&e.data)
}

/// Seals one submission with its author's, day's and body's keys.
fn seal_with(e: &mut NewEvent, keys: &SubmissionKeys) -> Result<(), StoreError> {
    let ((key_id, key), (day_id, day_key), (body_id, body_key)) =
        (&keys.author, &keys.day, &keys.body);
    seal::seal(
        &mut e.data,
        key_id,
        key,
        Some((day_id, day_key)),
        Some((body_id, body_key)),
    )
    .map_err(|err| StoreError::Invalid(err.to_string()))
}

/// Seals the submissions among `events`. Blocking (the key file may be written).
fn seal_all(keys: &Keys, events: &mut [NewEvent]) -> Result<(), StoreError> {
    for e in events.iter_mut().filter(|e| to_seal(e)) {
        let found = keys
            .submission_keys(&seal::author_of_data(&e.data), seal::day_of_data(&e.data))
            .map_err(key_failure)?;
        seal_with(e, &found)?;
    }
    Ok(())
}

/// Seals the submissions among `events` if every key they need is in memory (no I/O);
/// `false` (and nothing changed) when one is not.
fn seal_cached(keys: &Keys, events: &mut [NewEvent]) -> Result<bool, StoreError> {
    let mut found = Vec::new();
    for e in events.iter().filter(|e| to_seal(e)) {
        match (
            {
                let author = seal::author_of_data(&e.data);
                keys.cached_key_for(&author)
                    .or_else(|| keys.claim_set_aside(&author))
            },
            keys.cached_day_key(seal::day_of_data(&e.data)),
        ) {
            (Some(k), Some(d)) => found.push((k, d)),
            _ => return Ok(false),
        }
    }
    if found.is_empty() {
        return Ok(true);
    }
    let Some(bodies) = keys.take_body_keys(found.len()) else {
        return Ok(false);
    };
    let mut found = found.into_iter().zip(bodies);
    for e in events.iter_mut().filter(|e| to_seal(e)) {
        if let Some(((author, day), body)) = found.next() {
            seal_with(e, &SubmissionKeys { author, day, body })?;
        }
    }
    Ok(true)
}

/// Opens one event in place, its body key (if it has one) taken from `bodies`. Blocking on a
/// key cache miss.
fn open_one(
    keys: &Keys,
    bodies: &HashMap<String, Option<Key>>,
    e: &mut RecordedEvent,
) -> Result<(), StoreError> {
    if e.event_type != SUBMITTED {
        return Ok(());
    }
    let Some(key_id) = seal::sealed_key_id(&e.data) else {
        // Not sealed (written before sealing), or malformed: the codec judges it.
        return Ok(());
    };
    let key = keys.key(key_id).map_err(key_failure)?;
    let net_key = match seal::sealed_net_key_id(&e.data) {
        Some(id) => keys.key(id).map_err(key_failure)?,
        None => None,
    };
    let body_key =
        seal::sealed_body_key_id(&e.data).and_then(|id| bodies.get(id).copied().flatten());
    seal::open(
        &mut e.data,
        key.as_ref(),
        net_key.as_ref(),
        body_key.as_ref(),
    );
    Ok(())
}

fn has_sealed(events: &[RecordedEvent]) -> bool {
    events
        .iter()
        .any(|e| e.event_type == SUBMITTED && seal::sealed_key_id(&e.data).is_some())
}

/// The author's, the day's and the body's keys of a sealed event, each `None` when deleted.
type EventKeys = (Option<Key>, Option<Key>, Option<Key>);

/// The keys of every sealed event among `events` (`None` for the events that are not sealed),
/// if memory knows all of them.
fn cached_keys(keys: &Keys, events: &[RecordedEvent]) -> Option<Vec<Option<EventKeys>>> {
    events
        .iter()
        .map(|e| {
            if e.event_type != SUBMITTED {
                return Some(None);
            }
            let Some(id) = seal::sealed_key_id(&e.data) else {
                return Some(None);
            };
            let key = keys.cached_key(id)?;
            let net = match seal::sealed_net_key_id(&e.data) {
                Some(id) => keys.cached_key(id)?,
                None => None,
            };
            let body = match seal::sealed_body_key_id(&e.data) {
                Some(id) => keys.cached_body_key(id)?,
                None => None,
            };
            Some(Some((key, net, body)))
        })
        .collect()
}

async fn open_all(
    keys: &Arc<Keys>,
    recent: &Mutex<RecentPlain>,
    mut events: Vec<RecordedEvent>,
) -> Result<Vec<RecordedEvent>, StoreError> {
    if !has_sealed(&events) {
        return Ok(events);
    }
    take_recent_plain(keys, recent, &mut events);
    if !has_sealed(&events) {
        return Ok(events);
    }
    // A few events whose keys are in memory (a live subscription's, one at a time) are opened
    // here: the trip to the blocking pool costs more than opening them. A page stays off the
    // async workers (thousands of decryptions).
    if events.len() <= INLINE_OPEN_MAX
        && let Some(found) = cached_keys(keys, &events)
    {
        for (e, found) in events.iter_mut().zip(found) {
            if let Some((key, net, body)) = found {
                seal::open(&mut e.data, key.as_ref(), net.as_ref(), body.as_ref());
            }
        }
        return Ok(events);
    }
    let keys = keys.clone();
    tokio::task::spawn_blocking(move || {
        // Every key the page needs in one request (one round trip to a database).
        let ids: Vec<String> = events
            .iter()
            .filter(|e| e.event_type == SUBMITTED)
            .flat_map(|e| {
                [
                    seal::sealed_key_id(&e.data),
                    seal::sealed_net_key_id(&e.data),
                ]
            })
            .flatten()
            .map(str::to_string)
            .collect();
        keys.load(&ids).map_err(key_failure)?;
        let body_ids: Vec<String> = events
            .iter()
            .filter(|e| e.event_type == SUBMITTED)
            .filter_map(|e| seal::sealed_body_key_id(&e.data))
            .map(str::to_string)
            .collect();
        let bodies = keys.load_bodies(&body_ids).map_err(key_failure)?;
        for e in &mut events {
            open_one(&keys, &bodies, e)?;
        }
        Ok(events)
    })
    .await
    .map_err(|e| StoreError::Backend(format!("opening sealed events: {e}")))?
}

#[async_trait]
impl EventStore for SealedStore {
    async fn append(
        &self,
        stream: &str,
        expected: ExpectedRevision,
        mut events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        // Known authors' keys are in memory: sealed here, with no await before the inner
        // append, so appends made concurrently reach the log in the order they were made (as
        // they do without sealing; an import relies on it for its threads' order, and warms
        // the keys first with `Keys::prepare`). A new author's key is made on the
        // blocking pool (one sync of the key file).
        let plain: Vec<(Uuid, serde_json::Value)> = events
            .iter()
            .filter(|e| to_seal(e))
            .map(|e| (e.id, e.data.clone()))
            .collect();
        if !seal_cached(&self.keys, &mut events)? {
            let keys = self.keys.clone();
            events = tokio::task::spawn_blocking(move || {
                seal_all(&keys, &mut events)?;
                Ok::<_, StoreError>(events)
            })
            .await
            .map_err(|e| StoreError::Backend(format!("sealing events: {e}")))??;
        }
        let appended = self.inner.append(stream, expected, events).await?;
        if !plain.is_empty() {
            let mut recent = self.recent.lock();
            for (id, data) in plain {
                recent.remember(id, data);
            }
        }
        Ok(appended)
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_revision: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.inner.read_stream(stream, from_revision, max).await?;
        open_all(&self.keys, &self.recent, events).await
    }

    async fn read_all(
        &self,
        from_position: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = self.inner.read_all(from_position, max).await?;
        open_all(&self.keys, &self.recent, events).await
    }

    async fn read_all_skipping(
        &self,
        from_position: u64,
        max: usize,
        skip: crate::store::SkipStreams,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        // Nulled by the inner store (the embedded one does not even parse them): a skipped
        // submission names no key, so it is neither taken from the plain copies nor opened.
        let events = self
            .inner
            .read_all_skipping(from_position, max, skip)
            .await?;
        open_all(&self.keys, &self.recent, events).await
    }

    async fn subscribe_all(&self, from_position: u64) -> Result<EventStream, StoreError> {
        let (keys, recent) = (self.keys.clone(), self.recent.clone());
        let stream = self.inner.subscribe_all(from_position).await?;
        // Opened by the events at hand (a page read ahead: hundreds while catching up, one
        // at a time when live), not one by one: [`open_all`] takes a page to the blocking
        // pool, while events opened one by one were each opened inline on the async worker,
        // and the follower's `ready_chunks` took up to a thousand in one poll, holding that
        // worker (and the reads queued on it) for milliseconds.
        Ok(stream
            .ready_chunks(SUBSCRIPTION_CHUNK)
            .then(move |chunk| {
                let (keys, recent) = (keys.clone(), recent.clone());
                async move {
                    let (events, failed) = crate::store::events_until_failure(chunk);
                    let mut out: Vec<Result<RecordedEvent, StoreError>> =
                        match open_all(&keys, &recent, events).await {
                            Ok(events) => events.into_iter().map(Ok).collect(),
                            Err(e) => vec![Err(e)],
                        };
                    out.extend(failed.map(Err));
                    futures::stream::iter(out)
                }
            })
            .flatten()
            .boxed())
    }

    async fn head_position(&self) -> Result<Option<u64>, StoreError> {
        self.inner.head_position().await
    }

    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    fn shared_burned_tokens(&self) -> Option<Arc<dyn crate::captcha::SharedBurnedTokens>> {
        self.inner.shared_burned_tokens()
    }

    fn privacy_keys(&self) -> Option<Arc<Keys>> {
        Some(self.keys.clone())
    }

    /// Reads each stream's first event as stored (sealed) for the body key it names, and
    /// deletes those keys in one request.
    async fn shred_bodies(&self, streams: &[String]) -> Result<usize, StoreError> {
        let ids = self.named_ids(streams, seal::sealed_body_key_id).await?;
        let keys = self.keys.clone();
        tokio::task::spawn_blocking(move || keys.delete_bodies(&ids))
            .await
            .map_err(|e| StoreError::Backend(format!("deleting body keys: {e}")))?
            .map_err(key_failure)
    }

    /// Reads each stream's first event as stored (sealed) for the author key it names.
    async fn sealing_key_ids(&self, streams: &[String]) -> Result<Vec<String>, StoreError> {
        let mut ids = self.named_ids(streams, seal::sealed_key_id).await?;
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}

impl SealedStore {
    /// The key ids `pick` finds in each stream's submission as stored (sealed).
    async fn named_ids(
        &self,
        streams: &[String],
        pick: fn(&serde_json::Value) -> Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        for stream in streams {
            let first = self.inner.read_stream(stream, 0, 1).await?;
            if let Some(id) = first
                .first()
                .filter(|e| e.event_type == SUBMITTED)
                .and_then(|e| pick(&e.data))
            {
                ids.push(id.to_string());
            }
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn submitted(id: &str, email: &str, name: &str) -> NewEvent {
        NewEvent::new(
            SUBMITTED,
            json!({
                "type": SUBMITTED, "comment_id": id, "thread": "t", "parent_id": null,
                "author_name": name, "author_email": email, "author_url": null,
                "body": format!("Saya {name}."), "client": {"ip": "198.51.100.7", "user_agent": null},
                "captcha_solve_ms": 1, "lang": "id", "submitted_at": "2026-11-28T10:00:00Z",
            }),
        )
    }

    /// The first `n` events of a subscription from the start, each read without failure.
    async fn first_events(store: &SealedStore, n: usize) -> Vec<RecordedEvent> {
        let events: Vec<_> = store
            .subscribe_all(0)
            .await
            .unwrap()
            .take(n)
            .collect()
            .await;
        events.into_iter().map(Result::unwrap).collect()
    }

    /// A reader that skips some submissions gets them unread (data `null`, at their positions)
    /// and every other event opened as a plain read gives it.
    #[tokio::test]
    async fn skipped_submissions_come_back_unread_in_place_and_the_rest_opened() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(Keys::open(dir.path()).unwrap());
        let inner: Arc<dyn EventStore> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let store = SealedStore::new(inner, keys);
        for n in 0..3 {
            let id = format!("{n:08x}-2c0c-5a6f-9d53-0f6f0a1c2b3d");
            let event = submitted(&id, &format!("p{n}@contoh.id"), &format!("Pembaca {n}"));
            store
                .append(
                    &format!("comment-{n}"),
                    ExpectedRevision::NoStream,
                    vec![event],
                )
                .await
                .unwrap();
        }
        let plain = store.read_all(0, 10).await.unwrap();
        let skipped = store
            .read_all_skipping(0, 10, Arc::new(|stream: &str| stream == "comment-1"))
            .await
            .unwrap();
        let positions = |es: &[RecordedEvent]| es.iter().map(|e| e.position).collect::<Vec<_>>();
        assert_eq!(positions(&skipped), positions(&plain));
        assert!(crate::store::is_skipped_submission(&skipped[1]));
        assert_eq!(skipped[0].data, plain[0].data);
        assert_eq!(skipped[2].data, plain[2].data);
        assert_eq!(skipped[2].data["author_name"], "Pembaca 2");
        assert!(!crate::store::is_skipped_submission(&plain[1]));
    }

    /// A subscription opens a page of many submissions at once (off the async workers) and a
    /// live one on its own: every event arrives opened, once, in the log's order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_subscription_yields_every_event_opened_and_in_order_by_the_page_and_live() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(Keys::open(dir.path()).unwrap());
        let inner: Arc<dyn EventStore> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let store = SealedStore::new(inner, keys);
        let append = |n: u32| {
            let id = format!("{n:08x}-2c0c-5a6f-9d53-0f6f0a1c2b3d");
            let event = submitted(
                &id,
                &format!("p{}@contoh.id", n % 7),
                &format!("Pembaca {n}"),
            );
            (format!("comment-{n}"), event)
        };
        for n in 0..40 {
            let (stream, event) = append(n);
            store
                .append(&stream, ExpectedRevision::NoStream, vec![event])
                .await
                .unwrap();
        }
        let mut sub = store.subscribe_all(0).await.unwrap();
        let mut names = Vec::new();
        for _ in 0..40 {
            names.push(sub.next().await.unwrap().unwrap().data["author_name"].clone());
        }
        let (stream, event) = append(40);
        store
            .append(&stream, ExpectedRevision::NoStream, vec![event])
            .await
            .unwrap();
        names.push(sub.next().await.unwrap().unwrap().data["author_name"].clone());
        let expected: Vec<_> = (0..41).map(|n| json!(format!("Pembaca {n}"))).collect();
        assert_eq!(names, expected);
    }

    #[tokio::test]
    async fn the_log_on_disk_is_sealed_and_reads_back_open_until_the_key_is_erased() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(Keys::open(dir.path()).unwrap());
        let inner: Arc<dyn EventStore> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let store = SealedStore::new(inner.clone(), keys.clone());
        let (sari, budi) = (
            "7b0c5d43-2c0c-5a6f-9d53-0f6f0a1c2b3d",
            "8b0c5d43-2c0c-5a6f-9d53-0f6f0a1c2b3d",
        );
        store
            .append(
                "comment-a",
                ExpectedRevision::NoStream,
                vec![submitted(sari, "sari@contoh.id", "Sariwati")],
            )
            .await
            .unwrap();
        store
            .append(
                "comment-b",
                ExpectedRevision::NoStream,
                vec![submitted(budi, "budi@contoh.id", "Budiman")],
            )
            .await
            .unwrap();
        let raw = inner.read_all(0, 10).await.unwrap();
        assert!(raw.iter().all(|e| !e.data.to_string().contains("Sariwati")));
        let open = store.read_all(0, 10).await.unwrap();
        assert_eq!(open[0].data["author_name"], "Sariwati");
        assert_eq!(open[1].data["body"], "Saya Budiman.");

        keys.erase("email:sari@contoh.id").unwrap();
        let after = store.read_stream("comment-a", 0, 10).await.unwrap();
        assert_eq!(after[0].data["erased"], true);
        assert_eq!(after[0].data["author_email"], "");
        let live = first_events(&store, 2).await;
        assert_eq!(live[0].data["erased"], true);
        assert_eq!(
            live[1].data["author_name"], "Budiman",
            "the other reader is untouched"
        );
        drop((store, inner));
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            assert!(
                !bytes
                    .windows(8)
                    .any(|w| w == b"Sariwati" || w == b"Budiman.")
            );
        }
    }

    /// The follower reads back what this process sealed a moment before: from the plain copy
    /// it kept, the same data a process that never saw the append opens from the log, and
    /// after an erasure the copy is not used.
    #[tokio::test]
    async fn what_this_process_sealed_reads_back_as_another_process_opens_it() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(Keys::open(dir.path()).unwrap());
        let inner: Arc<dyn EventStore> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let store = SealedStore::new(inner.clone(), keys.clone());
        let mut with_url = submitted(
            "9b0c5d43-2c0c-5a6f-9d53-0f6f0a1c2b3d",
            "wati@contoh.id",
            "Wati",
        );
        with_url.data["author_url"] = json!("https://wati.contoh.id/");
        let events = [
            with_url,
            submitted(
                "ab0c5d43-2c0c-5a6f-9d53-0f6f0a1c2b3d",
                "sari@contoh.id",
                "Sari",
            ),
        ];
        for (n, e) in events.iter().enumerate() {
            store
                .append(
                    &format!("comment-{n}"),
                    ExpectedRevision::NoStream,
                    vec![e.clone()],
                )
                .await
                .unwrap();
        }
        assert_eq!(store.recent.lock().by_id.len(), 2, "both kept in memory");
        let mine = first_events(&store, 2).await;
        let fresh = SealedStore::new(inner.clone(), keys.clone());
        let opened = fresh.read_all(0, 10).await.unwrap();
        for (m, o) in mine.iter().zip(&opened) {
            assert_eq!(m.data, o.data);
        }
        assert_eq!(
            mine[0].data, events[0].data,
            "the submission as it was appended"
        );

        keys.erase("email:sari@contoh.id").unwrap();
        let after = store.read_stream("comment-1", 0, 10).await.unwrap();
        assert_eq!(after[0].data["erased"], true);
        assert_eq!(after[0].data["author_name"], "");
    }

    /// The plain copies are bounded: the oldest go first.
    #[test]
    fn the_plain_copies_are_bounded() {
        let mut recent = RecentPlain::default();
        let ids: Vec<Uuid> = (0..RECENT_PLAIN_MAX + 10).map(|_| Uuid::new_v4()).collect();
        for id in &ids {
            recent.remember(*id, json!({}));
        }
        assert_eq!(recent.by_id.len(), RECENT_PLAIN_MAX);
        assert_eq!(recent.order.len(), RECENT_PLAIN_MAX);
        assert!(!recent.by_id.contains_key(&ids[0]));
        assert!(recent.by_id.contains_key(ids.last().unwrap()));
    }
}
