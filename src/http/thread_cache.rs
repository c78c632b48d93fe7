//! Thread pages kept as ready-to-send JSON bytes with a strong ETag, rebuilt only when their
//! thread changes, so a widget read costs about as much as a static file.

use std::collections::HashMap;

use axum::body::Bytes;
use parking_lot::RwLock;
use sha2::{Digest, Sha256};

use crate::projections::Order;
use crate::service::View;

/// Pages kept at most; when full the cache is emptied, which only costs re-rendering.
const MAX_PAGES: usize = 50_000;

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

/// Cache of rendered thread pages keyed by thread, order and page.
#[derive(Default)]
pub struct ThreadCache {
    pages: RwLock<HashMap<(String, Order, usize), CachedPage>>,
}

impl ThreadCache {
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
        if let Some(hit) = self.pages.read().get(&key)
            && hit.generation == generation
        {
            return hit.clone();
        }
        let (generation, body) = view.read(|p| {
            let generation = p.threads.get(thread).map_or(0, |t| t.generation);
            let page = p.thread_page(thread, order, page, per_page, max_depth);
            (generation, serde_json::to_vec(&page).unwrap_or_default())
        });
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex::encode(&digest[..12]));
        let cached = CachedPage {
            generation,
            body: Bytes::from(body),
            etag,
        };
        // Unknown threads are not cached: anyone can ask for any key.
        if generation > 0 {
            let mut pages = self.pages.write();
            if pages.len() >= MAX_PAGES {
                pages.clear();
            }
            pages.insert(key, cached.clone());
        }
        cached
    }

    /// Number of cached pages (for metrics).
    pub fn len(&self) -> usize {
        self.pages.read().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
