//! Thread pages kept as ready-to-send JSON bytes with a strong ETag, rebuilt only when their
//! thread changes, so a widget read costs about as much as a static file.
//!
//! The cache is bounded in bytes, not entries: pages range from a few hundred bytes to tens of
//! kilobytes, and anyone can ask for any thread. When the budget is exceeded the least recently
//! used quarter is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use parking_lot::RwLock;
use sha2::{Digest, Sha256};

use crate::projections::Order;
use crate::service::View;

/// Bytes of rendered pages kept at most (32 MiB): a few thousand hot pages, and room under the
/// memory budget of 300 MiB at 100,000 comments.
pub const DEFAULT_BUDGET: usize = 32 * 1024 * 1024;

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

type Key = (String, Order, usize);

/// Cache of rendered thread pages keyed by thread, order and page.
pub struct ThreadCache {
    pages: RwLock<HashMap<Key, Entry>>,
    bytes: AtomicU64,
    clock: AtomicU64,
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
            budget,
        }
    }

    /// The page, from the cache when its thread has not changed since it was rendered.
    pub fn page(
        &self,
        view: &View,
        thread: &str,
        order: Order,
        page: usize,
        per_page: usize,
        max_depth: usize,
    ) -> CachedPage {
        let generation = view.read(|p| p.threads.get(thread).map_or(0, |t| t.generation));
        let key = (thread.to_string(), order, page);
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        if let Some(hit) = self.pages.read().get(&key)
            && hit.page.generation == generation
        {
            hit.used.store(now, Ordering::Relaxed);
            return hit.page.clone();
        }
        let (generation, body) = view.read(|p| {
            let generation = p.threads.get(thread).map_or(0, |t| t.generation);
            let page = p.thread_page(thread, order, page, per_page, max_depth);
            (generation, serde_json::to_vec(&page).unwrap_or_default())
        });
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex::encode(&digest[..12]));
        let page = CachedPage {
            generation,
            body: Bytes::from(body),
            etag,
        };
        // Unknown threads are not cached: anyone can ask for any key.
        if generation > 0 {
            self.insert(key, page.clone(), now);
        }
        page
    }

    fn insert(&self, key: Key, page: CachedPage, now: u64) {
        let key_len = key.0.len();
        let size = (page.body.len() + key_len + 64) as u64;
        let mut pages = self.pages.write();
        if let Some(old) = pages.insert(
            key,
            Entry {
                page,
                used: AtomicU64::new(now),
            },
        ) {
            self.bytes.fetch_sub(
                (old.page.body.len() + key_len + 64) as u64,
                Ordering::Relaxed,
            );
        }
        let total = self.bytes.fetch_add(size, Ordering::Relaxed) + size;
        if total as usize > self.budget {
            // Drop the least recently used quarter; sorting is rare and amortised over inserts.
            let mut ages: Vec<(u64, Key)> = pages
                .iter()
                .map(|(k, e)| (e.used.load(Ordering::Relaxed), k.clone()))
                .collect();
            ages.sort_unstable_by_key(|(used, _)| *used);
            for (_, k) in ages.into_iter().take(pages.len().div_ceil(4)) {
                if let Some(e) = pages.remove(&k) {
                    self.bytes.fetch_sub(
                        (e.page.body.len() + k.0.len() + 64) as u64,
                        Ordering::Relaxed,
                    );
                }
            }
        }
    }

    /// Number of cached pages (for metrics).
    pub fn len(&self) -> usize {
        self.pages.read().len()
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

    fn view_with_threads(n: usize) -> View {
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
        View::new(p)
    }

    #[test]
    fn the_cache_stays_within_its_byte_budget_and_keeps_recently_read_pages() {
        let view = view_with_threads(2_000);
        let cache = ThreadCache::with_budget(20_000);
        let hot = cache.page(&view, "t0", Order::Oldest, 1, 20, 3);
        for i in 1..2_000 {
            cache.page(&view, &format!("t{i}"), Order::Oldest, 1, 20, 3);
            // A page readers keep asking for stays.
            cache.page(&view, "t0", Order::Oldest, 1, 20, 3);
        }
        assert!(cache.bytes() <= 20_000, "{} bytes", cache.bytes());
        assert!(cache.len() > 10);
        let again = cache
            .pages
            .read()
            .get(&("t0".to_string(), Order::Oldest, 1))
            .map(|e| e.page.etag.clone());
        assert_eq!(again, Some(hot.etag));
    }

    #[test]
    fn a_changed_thread_is_rendered_again_with_a_new_etag() {
        let view = view_with_threads(1);
        let cache = ThreadCache::default();
        let first = cache.page(&view, "t0", Order::Oldest, 1, 20, 3);
        view.write(|p| {
            let t = p.threads.get_mut("t0").expect("thread");
            t.generation += 1;
            t.closed = true;
        });
        let second = cache.page(&view, "t0", Order::Oldest, 1, 20, 3);
        assert_ne!(first.etag, second.etag);
        assert!(
            std::str::from_utf8(&second.body)
                .unwrap()
                .contains("\"closed\":true")
        );
    }
}
