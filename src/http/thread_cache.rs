//! Thread pages kept as ready-to-send JSON bytes with a strong ETag, rendered from the
//! projection database only when their thread changed, so a widget read costs about as much as
//! a static file.
//!
//! The cache is bounded in bytes, not entries (`[projections] page_cache_bytes`): pages range
//! from a few hundred bytes to tens of kilobytes, and anyone can ask for any thread. When the
//! budget is exceeded the least recently used quarter is dropped. Pages of a thread are dropped
//! when the follower reports the thread changed ([`View::changed_since`]), before the position
//! a POST waits for is published; a page rendered while its thread changed is not kept.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use parking_lot::{Mutex, RwLock};
use sha2::{Digest, Sha256};

use crate::projections::Order;
use crate::service::View;
use crate::service::view::ChangedSince;
use crate::store::projection_db::ProjectionDbError;

/// Bytes of rendered pages kept by default (32 MiB): a few thousand hot pages.
pub const DEFAULT_BUDGET: usize = 32 * 1024 * 1024;

/// Bookkeeping bytes counted per cached page besides its body and key.
const ENTRY_OVERHEAD: usize = 96;

/// A rendered page.
#[derive(Clone)]
pub struct CachedPage {
    /// The thread's generation it was rendered at.
    generation: u64,
    /// The JSON body.
    pub body: Bytes,
    /// Strong ETag (quoted).
    pub etag: String,
}

struct Entry {
    page: CachedPage,
    /// The cache's clock when the page was last served, for least-recently-used eviction.
    used: AtomicU64,
}

type PageKey = (Order, usize);

fn entry_size(thread: &str, page: &CachedPage) -> u64 {
    (page.body.len() + thread.len() + ENTRY_OVERHEAD) as u64
}

/// Cache of rendered thread pages keyed by thread, then order and page.
pub struct ThreadCache {
    pages: RwLock<HashMap<String, HashMap<PageKey, Entry>>>,
    bytes: AtomicU64,
    clock: AtomicU64,
    /// The view's change sequence number the cache has applied.
    seen: Mutex<u64>,
    budget: usize,
}

impl Default for ThreadCache {
    fn default() -> Self {
        ThreadCache::with_budget(DEFAULT_BUDGET)
    }
}

impl ThreadCache {
    /// A cache holding at most `budget` bytes of pages.
    pub fn with_budget(budget: usize) -> ThreadCache {
        ThreadCache {
            pages: RwLock::new(HashMap::new()),
            bytes: AtomicU64::new(0),
            clock: AtomicU64::new(0),
            seen: Mutex::new(0),
            budget,
        }
    }

    /// Drops the pages of threads the view reports changed since the last call.
    fn apply_changes(&self, view: &View) {
        if view.change_seq() == *self.seen.lock() {
            return;
        }
        let mut seen = self.seen.lock();
        let now = view.change_seq();
        let changed = view.changed_since(*seen);
        let mut pages = self.pages.write();
        match changed {
            ChangedSince::All => {
                pages.clear();
                self.bytes.store(0, Ordering::Relaxed);
            }
            ChangedSince::Threads(threads) => {
                for t in threads {
                    if let Some(gone) = pages.remove(&t) {
                        let size: u64 = gone.values().map(|e| entry_size(&t, &e.page)).sum();
                        self.bytes.fetch_sub(size, Ordering::Relaxed);
                    }
                }
            }
        }
        *seen = now;
    }

    /// The page, from the cache when its thread has not changed since it was rendered; else
    /// rendered (and serialised) on the blocking pool by [`View::query`]. A failed database
    /// read is an error, never an empty page.
    pub async fn page(
        &self,
        view: &Arc<View>,
        thread: &str,
        order: Order,
        page: usize,
        per_page: usize,
        max_depth: usize,
    ) -> Result<CachedPage, ProjectionDbError> {
        self.apply_changes(view);
        let cheap_generation = view.read(|p| p.cheap_generation(thread));
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        if let Some(hit) = self
            .pages
            .read()
            .get(thread)
            .and_then(|t| t.get(&(order, page)))
            && cheap_generation.is_none_or(|g| g == hit.page.generation)
        {
            hit.used.store(now, Ordering::Relaxed);
            return Ok(hit.page.clone());
        }
        let before = view.change_seq();
        let key = thread.to_string();
        let rendered = view
            .query(move |p| {
                p.thread_page(&key, order, page, per_page, max_depth)
                    .map(|(generation, page)| {
                        (generation, serde_json::to_vec(&page).unwrap_or_default())
                    })
            })
            .await?
            .ok_or_else(|| ProjectionDbError::Task("the thread page was not rendered".into()))?;
        let (generation, body) = rendered;
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex::encode(&digest[..12]));
        let rendered = CachedPage {
            generation,
            body: Bytes::from(body),
            etag,
        };
        // Unknown threads are not cached: anyone can ask for any key.
        if generation > 0 {
            self.insert(view, before, thread, (order, page), rendered.clone(), now);
        }
        Ok(rendered)
    }

    fn insert(
        &self,
        view: &View,
        before: u64,
        thread: &str,
        key: PageKey,
        page: CachedPage,
        now: u64,
    ) {
        self.apply_changes(view);
        let mut pages = self.pages.write();
        // A change of this thread after the render started makes the page stale already.
        if view.change_seq() != before {
            match view.changed_since(before) {
                ChangedSince::All => return,
                ChangedSince::Threads(ts) if ts.iter().any(|t| t == thread) => return,
                ChangedSince::Threads(_) => {}
            }
        }
        let size = entry_size(thread, &page);
        if size as usize > self.budget {
            return;
        }
        let slot = pages.entry(thread.to_string()).or_default();
        if let Some(old) = slot.insert(
            key,
            Entry {
                page,
                used: AtomicU64::new(now),
            },
        ) {
            self.bytes
                .fetch_sub(entry_size(thread, &old.page), Ordering::Relaxed);
        }
        let total = self.bytes.fetch_add(size, Ordering::Relaxed) + size;
        if total as usize > self.budget {
            // Drop the least recently used quarter; sorting is rare and amortised over inserts.
            let mut ages: Vec<(u64, String, PageKey)> = pages
                .iter()
                .flat_map(|(t, ps)| {
                    ps.iter()
                        .map(move |(k, e)| (e.used.load(Ordering::Relaxed), t.clone(), *k))
                })
                .collect();
            ages.sort_unstable_by_key(|(used, _, _)| *used);
            let n = ages.len().div_ceil(4);
            for (_, t, k) in ages.into_iter().take(n) {
                if let Some(ps) = pages.get_mut(&t) {
                    if let Some(e) = ps.remove(&k) {
                        self.bytes
                            .fetch_sub(entry_size(&t, &e.page), Ordering::Relaxed);
                    }
                    if ps.is_empty() {
                        pages.remove(&t);
                    }
                }
            }
        }
    }

    /// Number of cached pages (for metrics).
    pub fn len(&self) -> usize {
        self.pages.read().values().map(HashMap::len).sum()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of cached pages (for metrics).
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projections::{Projections, ThreadRecord};

    fn view_with_threads(n: usize) -> Arc<View> {
        let mut p = Projections::default();
        for i in 0..n {
            p.threads.insert(
                format!("t{i}"),
                ThreadRecord {
                    generation: 1,
                    ..Default::default()
                },
            );
        }
        Arc::new(View::new(p))
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_byte_budget_and_keeps_recently_read_pages() {
        let view = view_with_threads(2_000);
        let cache = ThreadCache::with_budget(20_000);
        let hot = cache
            .page(&view, "t0", Order::Oldest, 1, 20, 3)
            .await
            .unwrap();
        for i in 1..2_000 {
            cache
                .page(&view, &format!("t{i}"), Order::Oldest, 1, 20, 3)
                .await
                .unwrap();
            // A page readers keep asking for stays.
            cache
                .page(&view, "t0", Order::Oldest, 1, 20, 3)
                .await
                .unwrap();
        }
        assert!(cache.bytes() <= 20_000, "{} bytes", cache.bytes());
        assert!(cache.len() > 10);
        let again = cache
            .pages
            .read()
            .get("t0")
            .and_then(|t| t.get(&(Order::Oldest, 1)))
            .map(|e| e.page.etag.clone());
        assert_eq!(again, Some(hot.etag));
    }

    #[tokio::test]
    async fn a_changed_thread_is_rendered_again_with_a_new_etag() {
        let view = view_with_threads(1);
        let cache = ThreadCache::default();
        let first = cache
            .page(&view, "t0", Order::Oldest, 1, 20, 3)
            .await
            .unwrap();
        view.write(|p| {
            let t = p.threads.get_mut("t0").expect("thread");
            t.generation += 1;
            t.closed = true;
        });
        let second = cache
            .page(&view, "t0", Order::Oldest, 1, 20, 3)
            .await
            .unwrap();
        assert_ne!(first.etag, second.etag);
        assert!(
            std::str::from_utf8(&second.body)
                .unwrap()
                .contains("\"closed\":true")
        );
    }
}
