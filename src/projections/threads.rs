//! The public view of a thread: approved comments only, threaded to a maximum depth, paged by
//! top-level comments. Only public fields are copied out: never email or address.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CommentRecord, Projections};
use crate::domain::CommentStatus;

/// Order of the top-level comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Oldest first (the default, as on most news sites).
    #[default]
    Oldest,
    /// Newest first.
    Newest,
}

/// A visible comment as readers get it (its OpenAPI schema is derived from this type).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PublicComment {
    /// The comment id.
    #[schema(value_type = String)]
    pub id: Uuid,
    /// The comment it replies to, if any.
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Uuid>,
    /// Display name (plain text: escape it when inserting into HTML).
    pub author_name: String,
    /// Author website (http or https only), if given.
    pub author_url: Option<String>,
    /// The body as safe HTML.
    pub body_html: String,
    /// When it was submitted (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Whether it awaits moderation; only ever true in the answer to its own author.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub pending: bool,
    /// Deleted at the author's request: name and website are empty and the body says so.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub erased: bool,
    /// Replies, oldest first.
    #[schema(no_recursion)]
    pub replies: Vec<PublicComment>,
}

impl PublicComment {
    /// The public part of a record, without replies.
    pub fn from_record(rec: &CommentRecord) -> PublicComment {
        PublicComment {
            id: rec.id,
            parent_id: rec.parent_id,
            author_name: rec.author_name.clone(),
            author_url: rec.author_url.clone(),
            body_html: rec.body_html.clone(),
            created_at: rec.created_at,
            pending: rec.status != Some(CommentStatus::Published),
            erased: rec.erased,
            replies: Vec::new(),
        }
    }
}

/// One page of a thread, the body of `GET /api/v1/threads/{thread}/comments` (its OpenAPI
/// schema is derived from this type).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ThreadPage {
    /// The thread key.
    pub thread: String,
    /// Visible comments in the whole thread, replies included.
    pub total: usize,
    /// Whether new comments are refused.
    pub closed: bool,
    /// This page's top-level comments with their replies.
    pub comments: Vec<PublicComment>,
    /// This page's number, from 1.
    pub page: usize,
    /// The next page's number, if there is one.
    pub next: Option<usize>,
}

impl Projections {
    /// Builds one page of a thread. `max_depth` 0 makes the thread flat; replies deeper than it
    /// hang under their deepest allowed ancestor, so no conversation is lost to the limit.
    pub fn thread_page(
        &self,
        thread: &str,
        order: Order,
        page: usize,
        per_page: usize,
        max_depth: usize,
    ) -> ThreadPage {
        let Some(t) = self.threads.get(thread) else {
            return page_of(
                thread,
                None,
                std::iter::empty(),
                |_| None,
                order,
                page,
                per_page,
                max_depth,
            );
        };
        page_of(
            thread,
            Some((t.closed, t.visible.len())),
            t.visible.values().filter_map(|id| self.comments.get(id)),
            |id| self.comments.get(id),
            order,
            page,
            per_page,
            max_depth,
        )
    }
}

/// One page of a thread from its visible comments in submission order and a lookup of any
/// comment of the thread (hidden parents are walked through to their nearest visible ancestor).
/// `facts` is the thread's closed flag and visible count, `None` for an unknown thread. Pure,
/// so the in-memory fold and the projection database render the same bytes.
#[allow(clippy::too_many_arguments)]
pub fn page_of<'a>(
    thread: &str,
    facts: Option<(bool, usize)>,
    visible: impl Iterator<Item = &'a CommentRecord>,
    lookup: impl Fn(&Uuid) -> Option<&'a CommentRecord>,
    order: Order,
    page: usize,
    per_page: usize,
    max_depth: usize,
) -> ThreadPage {
    let page = page.max(1);
    let per_page = per_page.max(1);
    let Some((closed, total)) = facts else {
        return ThreadPage {
            thread: thread.into(),
            total: 0,
            closed: false,
            comments: vec![],
            page,
            next: None,
        };
    };
    // Where each visible comment hangs in the tree, and at which depth.
    let mut placed: HashMap<Uuid, (Option<Uuid>, usize)> = HashMap::with_capacity(total);
    let mut children: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    let mut top: Vec<Uuid> = Vec::new();
    for rec in visible {
        let id = &rec.id;
        // The nearest visible ancestor: a hidden parent's replies move up, not out.
        let mut parent = rec.parent_id;
        let mut hops = 0;
        while let Some(p) = parent {
            if placed.contains_key(&p) || hops > 64 {
                break;
            }
            parent = lookup(&p).and_then(|r| r.parent_id);
            hops += 1;
        }
        let mut anchor = parent.filter(|p| placed.contains_key(p));
        while let Some(a) = anchor {
            let depth = placed[&a].1;
            if depth < max_depth {
                break;
            }
            anchor = placed[&a].0;
        }
        match anchor {
            Some(a) => {
                placed.insert(*id, (Some(a), placed[&a].1 + 1));
                children.entry(a).or_default().push(*id);
            }
            None => {
                placed.insert(*id, (None, 0));
                top.push(*id);
            }
        }
    }
    if order == Order::Newest {
        top.reverse();
    }
    let start = (page - 1).saturating_mul(per_page);
    let comments = top
        .iter()
        .skip(start)
        .take(per_page)
        .filter_map(|id| build(*id, &children, &lookup))
        .collect();
    let next = (start.saturating_add(per_page) < top.len()).then_some(page + 1);
    ThreadPage {
        thread: thread.into(),
        total,
        closed,
        comments,
        page,
        next,
    }
}

fn build<'a>(
    id: Uuid,
    children: &HashMap<Uuid, Vec<Uuid>>,
    lookup: &impl Fn(&Uuid) -> Option<&'a CommentRecord>,
) -> Option<PublicComment> {
    let mut c = PublicComment::from_record(lookup(&id)?);
    if let Some(kids) = children.get(&id) {
        c.replies = kids
            .iter()
            .filter_map(|k| build(*k, children, lookup))
            .collect();
    }
    Some(c)
}
