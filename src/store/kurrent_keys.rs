//! The sealing keys of a KurrentDB store (`crate::privacy::keys`), in streams of their own on
//! the same server as the log, so every replica seals and opens with the same keys and an
//! erasure on one replica holds for all.
//!
//! - **One stream per key**, `saring-key-<key id>`, holding one event with the key. Deleting a
//!   key tombstones (hard-deletes) its stream: it reads as deleted at once, can never be
//!   written again (key ids are random and never reused), and the server's next scavenge
//!   removes the event's bytes from its chunk files (see docs/privacy.md: the operator runs
//!   scavenging).
//! - **An author's key id** is found through `saring-key-author-<digest>`, whose events name
//!   key ids (no key). Two replicas making an author's first key at once both append; the
//!   first live id in the stream wins for both, and the loser's key stream is tombstoned.
//!   Erasure tombstones every key the stream names, then soft-deletes the stream (so the
//!   digest goes at the next scavenge, and a returning author can get a new key).
//! - **Day keys** are listed in `saring-key-days`: `{day, key_id}` entries, and
//!   `{deleted_before}` marks written when the retention pass tombstones old days' keys. The
//!   first entry of a day after the last mark covering it wins, as for authors.
//!
//! - **Body keys** are key streams too (`saring-key-<key id>`, named by no owner stream: the
//!   submission's sealed box names the id), made several at once, and tombstoned by the
//!   retention pass that purges the body.
//!
//! The log's reads and subscriptions skip every `saring-key-` stream
//! ([`crate::store::kurrent`]), so no export or projection ever sees a key, and appends to them
//! through the event store are refused.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use kurrentdb::{
    AppendToStreamOptions, Client, DeleteStreamOptions, EventData, ReadStreamOptions,
    StreamPosition, StreamState, TombstoneStreamOptions,
};
use serde_json::{Value, json};

use super::StoreError;
use super::kurrent::map_error;
use crate::privacy::keys::{Doomed, Key, KeyError, KeyStore, Owner, fresh_key, key_from};

/// The prefix of every key stream; the log's reads skip these streams.
pub const KEY_STREAM_PREFIX: &str = "saring-key-";
const DAYS_STREAM: &str = "saring-key-days";
const KEY_EVENT: &str = "SaringKey";
const OWNER_EVENT: &str = "SaringKeyOwner";
/// Key streams read at once when a page of events needs many keys.
const FETCHES_IN_FLIGHT: usize = 32;
/// Entries read from an owner stream at most (each names one key id; more than a few means
/// replicas raced many times).
const MAX_OWNER_EVENTS: usize = 10_000;

fn key_stream(key_id: &str) -> String {
    format!("{KEY_STREAM_PREFIX}{key_id}")
}

fn author_stream(digest: &str) -> String {
    format!("{KEY_STREAM_PREFIX}author-{digest}")
}

/// KurrentDB's key streams, through the log's client.
pub struct KurrentKeys {
    client: Client,
    /// The runtime the client runs on: the methods are blocking (called from the blocking
    /// pool) and wait for the server on it.
    rt: tokio::runtime::Handle,
}

impl KurrentKeys {
    /// The key streams of the server `client` talks to. Call inside the Tokio runtime the
    /// client runs on.
    pub fn new(client: Client) -> KurrentKeys {
        KurrentKeys {
            client,
            rt: tokio::runtime::Handle::current(),
        }
    }

    fn wait<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, KeyError> {
        self.rt.block_on(f).map_err(KeyError::Store)
    }

    /// The JSON events of a stream, oldest first; none when it does not exist or was deleted.
    async fn read(&self, stream: &str, max: usize) -> Result<Vec<Value>, StoreError> {
        let options = ReadStreamOptions::default()
            .forwards()
            .position(StreamPosition::Start)
            .max_count(max);
        let gone = |e: &kurrentdb::Error| {
            matches!(
                e,
                kurrentdb::Error::ResourceNotFound | kurrentdb::Error::ResourceDeleted
            )
        };
        let mut reader = match self.client.read_stream(stream, &options).await {
            Ok(r) => r,
            Err(e) if gone(&e) => return Ok(Vec::new()),
            Err(e) => return Err(map_error(e)),
        };
        let mut out = Vec::new();
        loop {
            match reader.next().await {
                Ok(Some(resolved)) => {
                    if let Some(e) = resolved.event.filter(|e| !e.event_type.starts_with('$')) {
                        let value = serde_json::from_slice(&e.data).map_err(|err| {
                            StoreError::Backend(format!("key stream {stream} is damaged: {err}"))
                        })?;
                        out.push(value);
                    }
                }
                Ok(None) => return Ok(out),
                Err(e) if gone(&e) => return Ok(Vec::new()),
                Err(e) => return Err(map_error(e)),
            }
        }
    }

    async fn append(
        &self,
        stream: &str,
        state: StreamState,
        event_type: &str,
        data: Value,
    ) -> Result<(), StoreError> {
        let event = EventData::json(event_type, &data)
            .map_err(|e| StoreError::Invalid(format!("key event is not serialisable: {e}")))?;
        let options = AppendToStreamOptions::default().stream_state(state);
        self.client
            .append_to_stream(stream, &options, event)
            .await
            .map_err(map_error)?;
        Ok(())
    }

    /// Tombstones a key's stream; one already deleted is fine.
    async fn tombstone(&self, key_id: &str) -> Result<(), StoreError> {
        match self
            .client
            .tombstone_stream(key_stream(key_id), &TombstoneStreamOptions::default())
            .await
        {
            Ok(_) | Err(kurrentdb::Error::ResourceDeleted) => Ok(()),
            Err(kurrentdb::Error::ResourceNotFound) => Ok(()),
            Err(e) => Err(map_error(e)),
        }
    }

    /// The key bytes of a key id, if its stream holds one.
    async fn key_of(&self, key_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let events = self.read(&key_stream(key_id), 1).await?;
        Ok(events
            .first()
            .and_then(|e| e["key"].as_str())
            .and_then(|k| hex::decode(k).ok()))
    }

    /// The key ids an owner's entries name, in the order written (for a day, only the entries
    /// after the last mark that covers it).
    async fn candidates(&self, owner: &Owner) -> Result<Vec<String>, StoreError> {
        let ids = |events: Vec<Value>| -> Vec<String> {
            events
                .iter()
                .filter_map(|e| e["key_id"].as_str().map(String::from))
                .collect()
        };
        match owner {
            Owner::Author(digest) => Ok(ids(self
                .read(&author_stream(digest), MAX_OWNER_EVENTS)
                .await?)),
            Owner::Day(day) => Ok(self.day_entries().await?.remove(day).unwrap_or_default()),
            Owner::Body => Ok(Vec::new()),
        }
    }

    /// Every day's key ids after the last mark that covers it, in the order written.
    async fn day_entries(&self) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let mut days: HashMap<String, Vec<String>> = HashMap::new();
        for e in self.read(DAYS_STREAM, usize::MAX).await? {
            if let Some(before) = e["deleted_before"].as_str() {
                days.retain(|day, _| day.as_str() >= before);
            } else if let (Some(day), Some(id)) = (e["day"].as_str(), e["key_id"].as_str()) {
                days.entry(day.to_string())
                    .or_default()
                    .push(id.to_string());
            }
        }
        Ok(days)
    }

    /// The first live key among an owner's entries.
    async fn live_key(&self, owner: &Owner) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        for id in self.candidates(owner).await? {
            if let Some(key) = self.key_of(&id).await? {
                return Ok(Some((id, key)));
            }
        }
        Ok(None)
    }

    /// A new key in a stream of its own, named by no owner entry (yet): a body key as it is.
    async fn new_key(&self) -> Result<(String, Vec<u8>), StoreError> {
        let (id, key) = fresh_key();
        self.append(
            &key_stream(&id),
            StreamState::NoStream,
            KEY_EVENT,
            json!({"key": hex::encode(key)}),
        )
        .await?;
        Ok((id, key.to_vec()))
    }

    async fn get_or_create_one(&self, owner: &Owner) -> Result<(String, Vec<u8>), StoreError> {
        if *owner == Owner::Body {
            return self.new_key().await;
        }
        if let Some(found) = self.live_key(owner).await? {
            return Ok(found);
        }
        // The key first, durable, then the entry naming it: an entry never names a key that
        // was not stored.
        let (id, _) = self.new_key().await?;
        match owner {
            Owner::Author(digest) => {
                self.append(
                    &author_stream(digest),
                    StreamState::Any,
                    OWNER_EVENT,
                    json!({"key_id": id}),
                )
                .await?
            }
            Owner::Body => {}
            Owner::Day(day) => {
                self.append(
                    DAYS_STREAM,
                    StreamState::Any,
                    OWNER_EVENT,
                    json!({"day": day, "key_id": id}),
                )
                .await?
            }
        }
        // Another replica may have written its entry first: the first live one wins for all.
        match self.live_key(owner).await? {
            Some((winner, bytes)) => {
                if winner != id {
                    self.tombstone(&id).await?;
                }
                Ok((winner, bytes))
            }
            None => Err(StoreError::Backend(
                "a key just stored in KurrentDB reads as deleted (erased meanwhile); retry".into(),
            )),
        }
    }

    async fn delete_all(&self, doomed: &Doomed) -> Result<Vec<String>, StoreError> {
        match doomed {
            Doomed::Author(digest) => {
                let owner = Owner::Author(digest.clone());
                let mut deleted = Vec::new();
                for id in self.candidates(&owner).await? {
                    if self.key_of(&id).await?.is_some() {
                        self.tombstone(&id).await?;
                        deleted.push(id);
                    }
                }
                match self
                    .client
                    .delete_stream(author_stream(digest), &DeleteStreamOptions::default())
                    .await
                {
                    Ok(_)
                    | Err(kurrentdb::Error::ResourceNotFound)
                    | Err(kurrentdb::Error::ResourceDeleted) => {}
                    Err(e) => return Err(map_error(e)),
                }
                Ok(deleted)
            }
            // An author key named by id is a key stream like a body key; its owner stream's
            // entry then names a deleted key, which reads as none.
            Doomed::Bodies(ids) | Doomed::AuthorKeys(ids) => {
                let mut deleted = Vec::new();
                for id in ids {
                    if self.key_of(id).await?.is_some() {
                        self.tombstone(id).await?;
                        deleted.push(id.clone());
                    }
                }
                Ok(deleted)
            }
            Doomed::DaysBefore(first_kept) => {
                let mut deleted = Vec::new();
                let mut days: Vec<_> = self.day_entries().await?.into_iter().collect();
                days.sort();
                for (_, ids) in days.iter().filter(|(day, _)| day < first_kept) {
                    for id in ids {
                        if self.key_of(id).await?.is_some() {
                            self.tombstone(id).await?;
                            deleted.push(id.clone());
                        }
                    }
                }
                if !deleted.is_empty() {
                    self.append(
                        DAYS_STREAM,
                        StreamState::Any,
                        OWNER_EVENT,
                        json!({"deleted_before": first_kept}),
                    )
                    .await?;
                }
                Ok(deleted)
            }
        }
    }
}

impl KeyStore for KurrentKeys {
    fn describe(&self) -> String {
        format!("KurrentDB ({KEY_STREAM_PREFIX}* streams)")
    }

    fn shared(&self) -> bool {
        true
    }

    fn get_or_create(&self, owners: &[Owner]) -> Result<Vec<(String, Key)>, KeyError> {
        // Owners one after the other (two replicas race per owner, see above); body keys,
        // which race with nothing, several at once: a batch makes hundreds.
        let made = self.wait(
            futures::stream::iter(owners)
                .map(|owner| self.get_or_create_one(owner))
                .buffered(FETCHES_IN_FLIGHT)
                .try_collect::<Vec<_>>(),
        )?;
        made.into_iter()
            .map(|(id, bytes)| Ok((id, key_from(&bytes, self)?)))
            .collect()
    }

    fn fetch(&self, key_ids: &[String]) -> Result<HashMap<String, Key>, KeyError> {
        // One read per key stream, several in flight: a page of events opened cold needs
        // up to two keys per submission.
        let found: Vec<(String, Option<Vec<u8>>)> = self.wait(
            futures::stream::iter(key_ids)
                .map(|id| async move { Ok::<_, StoreError>((id.clone(), self.key_of(id).await?)) })
                .buffer_unordered(FETCHES_IN_FLIGHT)
                .try_collect(),
        )?;
        let found = found
            .into_iter()
            .filter_map(|(id, bytes)| Some((id, bytes?)));
        found
            .map(|(id, bytes)| Ok((id, key_from(&bytes, self)?)))
            .collect()
    }

    fn fetch_bodies(&self, key_ids: &[String]) -> Result<HashMap<String, Key>, KeyError> {
        // A body key is a key stream like the others.
        self.fetch(key_ids)
    }

    fn delete(&self, doomed: &Doomed) -> Result<Vec<String>, KeyError> {
        self.wait(self.delete_all(doomed))
    }

    fn has_author(&self, author: &str) -> Result<bool, KeyError> {
        Ok(self
            .wait(self.live_key(&Owner::Author(author.to_string())))?
            .is_some())
    }

    /// KurrentDB lists no streams without its projections, so the author keys are not counted.
    fn count_authors(&self) -> Result<u64, KeyError> {
        Err(KeyError::NotAFile {
            what: "counting the author keys",
            store: self.describe(),
        })
    }

    fn days(&self) -> Result<Vec<String>, KeyError> {
        let entries = self.wait(async {
            let mut live = Vec::new();
            for (day, ids) in self.day_entries().await? {
                for id in ids {
                    if self.key_of(&id).await?.is_some() {
                        live.push(day);
                        break;
                    }
                }
            }
            Ok(live)
        })?;
        let mut days = entries;
        days.sort();
        Ok(days)
    }
}
