//! Queries for the moderation console over the projections: the five queues with counts and
//! oldest item, filters (thread, author email, address group, URL domain, text), both orders and
//! keyset paging by a `(time, id)` cursor, and an author's record on this site.
//!
//! Keyset rather than offset paging: when a colleague clears comments from the queue between
//! two pages, an offset would skip as many items as left; "after (time, id)" skips none.
//! Pure functions of the projections: no I/O, and "now" is the caller's argument.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{CommentRecord, Projections};
use crate::domain::CommentStatus;

/// A queue of the console: the four moderation queues and every published comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleQueue {
    /// Held for a moderator.
    Pending,
    /// Visible but reported by readers.
    Reported,
    /// Classed as spam.
    Spam,
    /// Refused.
    Rejected,
    /// Every visible comment (to search and take down).
    Published,
}

impl ConsoleQueue {
    /// Every queue, in the console's tab order.
    pub const ALL: [ConsoleQueue; 5] = [
        ConsoleQueue::Pending,
        ConsoleQueue::Reported,
        ConsoleQueue::Spam,
        ConsoleQueue::Rejected,
        ConsoleQueue::Published,
    ];

    /// The name used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleQueue::Pending => "pending",
            ConsoleQueue::Reported => "reported",
            ConsoleQueue::Spam => "spam",
            ConsoleQueue::Rejected => "rejected",
            ConsoleQueue::Published => "published",
        }
    }

    /// Parses the name used in URLs.
    pub fn parse(s: &str) -> Option<ConsoleQueue> {
        ConsoleQueue::ALL.into_iter().find(|q| q.as_str() == s)
    }
}

/// Oldest or newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Oldest first (the default: the longest waiting first).
    #[default]
    Oldest,
    /// Newest first.
    Newest,
}

/// Filters of a queue; empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    /// Thread key, exactly.
    pub thread: Option<String>,
    /// Author email, case-insensitively.
    pub email: Option<String>,
    /// Address group as stored (`203.0.113.7/32`, `2001:db8::/64`).
    pub address: Option<String>,
    /// Domain of the author's website; subdomains match too.
    pub domain: Option<String>,
    /// Words in the body or the author's name, case-insensitively.
    pub text: Option<String>,
}

/// A page position: the `(time, id)` of the last item shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    /// Submission time of the item.
    pub at: DateTime<Utc>,
    /// Its id, breaking ties between equal times.
    pub id: Uuid,
}

impl Cursor {
    /// `SECONDS.NANOS_UUID`, safe in a URL.
    pub fn encode(&self) -> String {
        format!(
            "{}.{:09}_{}",
            self.at.timestamp(),
            self.at.timestamp_subsec_nanos(),
            self.id
        )
    }

    /// Parses [`Cursor::encode`]'s form.
    pub fn decode(s: &str) -> Option<Cursor> {
        let (time, id) = s.split_once('_')?;
        let (secs, nanos) = time.split_once('.')?;
        let at = DateTime::from_timestamp(secs.parse().ok()?, nanos.parse().ok()?)?;
        Some(Cursor {
            at,
            id: Uuid::parse_str(id).ok()?,
        })
    }

    /// The cursor just at a record.
    pub fn of(r: &CommentRecord) -> Cursor {
        Cursor {
            at: r.created_at,
            id: r.id,
        }
    }
}

/// A queue's size and how long its oldest item has waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Items in the queue.
    pub count: usize,
    /// Submission time of the oldest item.
    pub oldest: Option<DateTime<Utc>>,
}

/// One page of a filtered queue.
#[derive(Debug, PartialEq)]
pub struct QueuePage {
    /// The items, in the asked order.
    pub items: Vec<CommentRecord>,
    /// The cursor of the next page, if there are more items.
    pub next: Option<Cursor>,
    /// Items matching the filter in the whole queue.
    pub matching: usize,
}

/// What this site knows of an author (by email).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AuthorRecord {
    /// Comments now visible.
    pub approved: u32,
    /// Waiting for a moderator.
    pub pending: u32,
    /// Classed as spam.
    pub spam: u32,
    /// Refused.
    pub rejected: u32,
    /// Deleted.
    pub deleted: u32,
    /// The first comment's time.
    pub first_seen: Option<DateTime<Utc>>,
}

/// The lowercased host of an http(s) URL, without `www.`.
pub fn url_host(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))?;
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit('@').next()?.split(':').next()?;
    let host = host.strip_prefix("www.").unwrap_or(host);
    (!host.is_empty()).then(|| host.to_string())
}

impl QueueFilter {
    /// Whether a comment passes every filter set.
    pub fn matches(&self, r: &CommentRecord) -> bool {
        if self.thread.as_deref().is_some_and(|t| r.thread != t) {
            return false;
        }
        if self
            .email
            .as_deref()
            .is_some_and(|e| !r.author_email.eq_ignore_ascii_case(e.trim()))
        {
            return false;
        }
        if self.address.as_deref().is_some_and(|a| r.ip_key != a) {
            return false;
        }
        if let Some(domain) = self.domain.as_deref() {
            let want = domain
                .trim()
                .trim_start_matches("www.")
                .to_ascii_lowercase();
            let host = r.author_url.as_deref().and_then(url_host);
            let ok = host.is_some_and(|h| h == want || h.ends_with(&format!(".{want}")));
            if !ok {
                return false;
            }
        }
        if let Some(text) = self.text.as_deref() {
            let needle = text.trim().to_lowercase();
            // The record keeps the rendered body, so the needle is escaped the same way.
            let escaped = html_escape::encode_text(&needle).into_owned();
            let hit = r.author_name.to_lowercase().contains(&needle)
                || r.body_html.to_lowercase().contains(&escaped);
            if !hit {
                return false;
            }
        }
        true
    }
}

impl Projections {
    fn queue_ids(&self, queue: ConsoleQueue) -> Box<dyn Iterator<Item = &CommentRecord> + '_> {
        let of_map = |m: &'_ std::collections::BTreeMap<u64, Uuid>| {
            m.values()
                .filter_map(|id| self.comments.get(id))
                .collect::<Vec<_>>()
        };
        match queue {
            ConsoleQueue::Pending => Box::new(of_map(&self.queues.pending).into_iter()),
            ConsoleQueue::Reported => Box::new(of_map(&self.queues.reported).into_iter()),
            ConsoleQueue::Spam => Box::new(of_map(&self.queues.spam).into_iter()),
            ConsoleQueue::Rejected => Box::new(of_map(&self.queues.rejected).into_iter()),
            ConsoleQueue::Published => Box::new(
                self.comments
                    .values()
                    .filter(|r| r.status == Some(CommentStatus::Published)),
            ),
        }
    }

    /// A queue's count and oldest item. The four moderation queues are ordered by submission
    /// position, so their first entry is the oldest (positions and submission times advance
    /// together); the published "queue" takes the first visible comment of every thread.
    pub fn queue_stats(&self, queue: ConsoleQueue) -> QueueStats {
        let first_of = |m: &std::collections::BTreeMap<u64, Uuid>| QueueStats {
            count: m.len(),
            oldest: m
                .values()
                .find_map(|id| self.comments.get(id))
                .map(|r| r.created_at),
        };
        match queue {
            ConsoleQueue::Pending => first_of(&self.queues.pending),
            ConsoleQueue::Reported => first_of(&self.queues.reported),
            ConsoleQueue::Spam => first_of(&self.queues.spam),
            ConsoleQueue::Rejected => first_of(&self.queues.rejected),
            ConsoleQueue::Published => QueueStats {
                count: self.threads.values().map(|t| t.visible.len()).sum(),
                oldest: self
                    .threads
                    .values()
                    .filter_map(|t| t.visible.values().next())
                    .filter_map(|id| self.comments.get(id))
                    .map(|r| r.created_at)
                    .min(),
            },
        }
    }

    /// One page of a queue: the items matching `filter` strictly after `after` in `order`.
    pub fn queue_search(
        &self,
        queue: ConsoleQueue,
        filter: &QueueFilter,
        order: SortOrder,
        after: Option<Cursor>,
        limit: usize,
    ) -> QueuePage {
        let limit = limit.max(1);
        let mut total = 0;
        let mut rest: Vec<&CommentRecord> = self
            .queue_ids(queue)
            .filter(|r| filter.matches(r))
            .inspect(|_| total += 1)
            .filter(|r| match (after, order) {
                (None, _) => true,
                (Some(c), SortOrder::Oldest) => Cursor::of(r) > c,
                (Some(c), SortOrder::Newest) => Cursor::of(r) < c,
            })
            .collect();
        let cmp = |a: &&CommentRecord, b: &&CommentRecord| match order {
            SortOrder::Oldest => Cursor::of(a).cmp(&Cursor::of(b)),
            SortOrder::Newest => Cursor::of(b).cmp(&Cursor::of(a)),
        };
        // Only the page and one more are needed in order: partition, then sort those.
        if rest.len() > limit + 1 {
            rest.select_nth_unstable_by(limit, cmp);
            rest.truncate(limit + 1);
        }
        rest.sort_unstable_by(cmp);
        let more = rest.len() > limit;
        rest.truncate(limit);
        let next = if more {
            rest.last().map(|r| Cursor::of(r))
        } else {
            None
        };
        QueuePage {
            items: rest.into_iter().cloned().collect(),
            next,
            matching: total,
        }
    }

    /// An author's comments on this site by status, and the first one's time.
    pub fn author_record(&self, email: &str) -> AuthorRecord {
        let mut rec = AuthorRecord::default();
        for r in self
            .comments
            .values()
            .filter(|r| r.author_email.eq_ignore_ascii_case(email))
        {
            let slot = match r.status {
                Some(CommentStatus::Published) => &mut rec.approved,
                Some(CommentStatus::Pending) | None => &mut rec.pending,
                Some(CommentStatus::Spam) => &mut rec.spam,
                Some(CommentStatus::Rejected) => &mut rec.rejected,
                Some(CommentStatus::Deleted) => &mut rec.deleted,
            };
            *slot += 1;
            rec.first_seen = Some(rec.first_seen.map_or(r.created_at, |f| f.min(r.created_at)));
        }
        rec
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(n: u64, second: i64, email: &str, url: Option<&str>, body: &str) -> CommentRecord {
        CommentRecord {
            id: Uuid::from_u128(u128::from(n) + 1),
            thread: format!("t{}", n % 3),
            parent_id: None,
            author_name: format!("Pembaca {n}"),
            author_email: email.to_string(),
            author_url: url.map(String::from),
            ip_key: format!("203.0.113.{}/32", n % 4),
            body_html: crate::projections::render::body_html(body),
            created_at: DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap(),
            status: Some(CommentStatus::Pending),
            status_before_delete: None,
            seq: n + 1,
            version: 2,
            score: 5.0,
            outcome: None,
            reports: 0,
            borrowed: false,
            erased: false,
        }
    }

    fn with(records: Vec<CommentRecord>) -> Projections {
        let mut p = Projections::default();
        for r in records {
            p.queues.pending.insert(r.seq, r.id);
            p.comments.insert(r.id, r);
        }
        p
    }

    #[test]
    fn filters_pick_thread_author_address_domain_and_text() {
        let p = with(vec![
            record(
                0,
                0,
                "a@x.id",
                Some("https://www.Judi.example/x"),
                "Ayo & <main>",
            ),
            record(1, 1, "b@x.id", Some("http://blog.judi.example"), "halo"),
            record(2, 2, "A@X.ID", None, "Berita bagus"),
        ]);
        let page = |f: QueueFilter| {
            p.queue_search(ConsoleQueue::Pending, &f, SortOrder::Oldest, None, 10)
                .items
                .iter()
                .map(|r| r.seq)
                .collect::<Vec<_>>()
        };
        let f = QueueFilter::default;
        assert_eq!(
            page(QueueFilter {
                email: Some("a@x.id".into()),
                ..f()
            }),
            [1, 3]
        );
        assert_eq!(
            page(QueueFilter {
                domain: Some("judi.example".into()),
                ..f()
            }),
            [1, 2]
        );
        assert_eq!(
            page(QueueFilter {
                domain: Some("blog.judi.example".into()),
                ..f()
            }),
            [2]
        );
        assert_eq!(
            page(QueueFilter {
                text: Some("& <MAIN>".into()),
                ..f()
            }),
            [1]
        );
        assert_eq!(
            page(QueueFilter {
                thread: Some("t2".into()),
                ..f()
            }),
            [3]
        );
        assert_eq!(
            page(QueueFilter {
                address: Some("203.0.113.1/32".into()),
                ..f()
            }),
            [2]
        );
        let stats = p.queue_stats(ConsoleQueue::Pending);
        assert_eq!(stats.count, 3);
        assert_eq!(
            stats.oldest,
            Some(p.comments[&Uuid::from_u128(1)].created_at)
        );
        let author = p.author_record("a@x.id");
        assert_eq!((author.pending, author.first_seen.is_some()), (2, true));
    }

    #[test]
    fn cursors_survive_their_text_form() {
        let c = Cursor {
            at: DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap(),
            id: Uuid::from_u128(42),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("nonsense"), None);
        assert_eq!(Cursor::decode("1.2_not-a-uuid"), None);
    }

    proptest! {
        /// While items leave the queue between pages, every item that stays is seen exactly
        /// once, in order, whichever order is asked.
        #[test]
        fn paging_has_no_gaps_when_items_leave(
            seconds in proptest::collection::vec(0i64..50, 1..60),
            leave in proptest::collection::vec(any::<bool>(), 60),
            limit in 1usize..7,
            newest in any::<bool>(),
        ) {
            let records: Vec<CommentRecord> = seconds
                .iter()
                .enumerate()
                .map(|(i, s)| record(i as u64, *s, "a@x.id", None, "isi"))
                .collect();
            let mut p = with(records.clone());
            let order = if newest { SortOrder::Newest } else { SortOrder::Oldest };
            let mut seen = Vec::new();
            let mut cursor = None;
            let mut removed = std::collections::HashSet::new();
            loop {
                let page = p.queue_search(ConsoleQueue::Pending, &QueueFilter::default(), order, cursor, limit);
                let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
                let next = page.next;
                seen.extend(ids.iter().copied());
                // A colleague clears some items: shown ones and not-yet-shown ones.
                for r in &records {
                    if leave[(r.seq as usize) % leave.len()] && !removed.contains(&r.id) && removed.len() < records.len() / 2 {
                        removed.insert(r.id);
                        p.queues.pending.remove(&r.seq);
                        break;
                    }
                }
                match next { Some(c) => cursor = Some(c), None => break }
            }
            let mut expected: Vec<&CommentRecord> = records.iter().filter(|r| !removed.contains(&r.id)).collect();
            expected.sort_by_key(|r| (r.created_at, r.id));
            if newest { expected.reverse(); }
            for r in expected {
                prop_assert_eq!(seen.iter().filter(|id| **id == r.id).count(), 1);
            }
            let mut sorted = seen.clone();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), seen.len());
        }
    }
}
