//! Moving in and out: importing comments from WordPress (WXR), Disqus and Isso, exporting the
//! log as JSON lines or WXR, and backing up the data folder while the service runs.
//!
//! Every importer reads its source into [`SourceComment`]s; [`plan`] checks and maps them the
//! same way for all (thread keys, ids derived from the source's ids, text bodies, parents), and
//! [`write_plan`] appends each comment as its own stream with `NoStream`, against the
//! [`EventStore`] trait, so any backend takes an import and a second run adds nothing.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use uuid::Uuid;

use crate::domain::input::{self, MAX_BODY_CHARS, MAX_NAME_CHARS};
use crate::domain::values::{AddressGroup, Email, ThreadKey};
use crate::domain::{Actor, ClientFacts, DomainEvent, Submission};
use crate::i18n::Lang;
use crate::store::{EventMetadata, EventStore, ExpectedRevision, StoreError};

pub mod backup;
pub mod cli;
pub mod disqus;
pub mod events;
pub mod html;
pub mod isso;
pub mod wxr;
pub mod xml;

/// Why an import, export or backup failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The source file is not well-formed or is hostile; nothing was imported.
    #[error("line {line}: {message}")]
    Malformed {
        /// The line (from 1) where the problem is.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// Some records cannot be imported; nothing was, unless `--skip-bad` was given.
    #[error(
        "{} records cannot be imported (first: {}); nothing was imported. Fix them, or pass --skip-bad to import the rest",
        .0.len(),
        .0.first().map(ToString::to_string).unwrap_or_default()
    )]
    BadRecords(Vec<Problem>),
    /// The file is larger than accepted.
    #[error("the file has {size} bytes, more than the {limit} accepted")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Reading or writing a file failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An SQLite file (an Isso database or a backup) could not be read or written.
    #[error("{what}: {source}")]
    Sqlite {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The target store of `import events` already holds events.
    #[error("the target store already holds events; `import events` needs an empty store")]
    NotEmpty,
    /// A line of an events file is not an event.
    #[error("line {line} of the events file: {message}")]
    BadEventLine {
        /// The line (from 1).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The store settings could not be read.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A backup failed its check.
    #[error("the backup is not usable: {0}")]
    BadBackup(String),
}

impl MigrateError {
    /// An I/O error with the step it happened in.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> MigrateError {
        MigrateError::Io {
            what: what.into(),
            source,
        }
    }
}

/// The largest source file read, in bytes: a WordPress site with a million comments exports
/// well under this, and the file is held in memory while it is read.
pub const MAX_SOURCE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Reads a whole source file, refusing one above [`MAX_SOURCE_BYTES`].
pub fn read_source(path: &std::path::Path) -> Result<Vec<u8>, MigrateError> {
    let what = || format!("reading {}", path.display());
    let size = std::fs::metadata(path)
        .map_err(|e| MigrateError::io(what(), e))?
        .len();
    if size > MAX_SOURCE_BYTES {
        return Err(MigrateError::TooLarge {
            size,
            limit: MAX_SOURCE_BYTES,
        });
    }
    std::fs::read(path).map_err(|e| MigrateError::io(what(), e))
}

/// The system a comment comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A WordPress export (WXR).
    WordPress,
    /// A Disqus XML export.
    Disqus,
    /// An Isso SQLite database.
    Isso,
}

impl Source {
    /// The name recorded in `CommentImported` and in the actor `import:<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Source::WordPress => "wordpress",
            Source::Disqus => "disqus",
            Source::Isso => "isso",
        }
    }
}

/// The state a comment had in its source system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceState {
    /// Shown to readers (WordPress `1`).
    Published,
    /// Waiting for a moderator (WordPress `0`).
    Pending,
    /// Classed as spam.
    Spam,
    /// Deleted (WordPress `trash`, Disqus `isDeleted`).
    Deleted,
}

/// How an article of the source becomes a Saring thread key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ThreadKeyRule {
    /// The source's id of the article (WordPress post ID, Disqus thread id, Isso thread id).
    #[default]
    PostId,
    /// The article's slug (the last segment of its URL path where the source has no slug).
    Slug,
    /// The article URL's path, `/` and other characters thread keys do not allow as `-`.
    Path,
}

/// Where a comment belongs in its source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceArticle {
    /// The source's id of the article.
    pub id: String,
    /// Its slug, if the source has one.
    pub slug: String,
    /// Its URL (or path).
    pub link: String,
}

/// One comment as an importer read it, before any checking.
#[derive(Debug, Clone)]
pub struct SourceComment {
    /// The line of the source file it starts on (0 where the source has no lines).
    pub line: u64,
    /// Its id in the source.
    pub original_id: String,
    /// The article it belongs to.
    pub article: SourceArticle,
    /// The source id of the comment it replies to.
    pub parent: Option<String>,
    /// Display name.
    pub author_name: String,
    /// Email, possibly empty.
    pub author_email: String,
    /// Website, possibly empty.
    pub author_url: String,
    /// Client address, possibly empty.
    pub ip: String,
    /// The body as the source stores it (HTML).
    pub body_html: String,
    /// When it was written, if the source's date could be read.
    pub created_at: Option<DateTime<Utc>>,
    /// Its state in the source.
    pub state: SourceState,
    /// Why the importer passes over it on purpose (a pingback), if it does.
    pub not_a_comment: Option<String>,
    /// What the importer found wrong with it (an unknown state), if anything.
    pub bad: Option<String>,
}

/// Mapping and safety options shared by every importer.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// How articles become thread keys.
    pub thread_key: ThreadKeyRule,
    /// Put before every thread key, e.g. `wp-`.
    pub prefix: String,
    /// Import the good records and report the bad ones instead of importing nothing.
    pub skip_bad: bool,
    /// The language recorded on imported comments.
    pub lang: Lang,
}

/// A record that cannot be imported, or a note about one that can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line of the source file (0 if the source has no lines).
    pub line: u64,
    /// The record's id in the source.
    pub original_id: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        write!(f, "comment {}: {}", self.original_id, self.message)
    }
}

/// One comment ready to write.
#[derive(Debug, Clone)]
pub struct PlannedComment {
    /// Its id in the source.
    pub original_id: String,
    /// The submission as the log records it.
    pub submission: Submission,
    /// Its state in the source.
    pub state: SourceState,
    /// Replies above it (0 for a top-level comment); parents are written first.
    pub depth: usize,
}

/// What an import would write and what it found wrong.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    /// The source.
    pub source: Source,
    /// Comments to write, parents before their replies.
    pub comments: Vec<PlannedComment>,
    /// Records that cannot be imported.
    pub bad: Vec<Problem>,
    /// Notes about records imported with a change (a dropped URL) or passed over (pingbacks).
    pub notes: Vec<Problem>,
}

/// The id Saring gives a comment from a source: the same for the same source, site and
/// original id, so a second import finds the stream already there.
pub fn derived_id(source: Source, site: &str, original_id: &str) -> Uuid {
    /// A fixed namespace for imported comment ids (random once, never to change).
    const NAMESPACE: Uuid = Uuid::from_u128(0x5a71_6e67_1e0b_4c3a_9d2e_8f41_27c6_0b15);
    Uuid::new_v5(
        &NAMESPACE,
        format!("{}\n{site}\n{original_id}", source.name()).as_bytes(),
    )
}

/// The thread key of an article under a rule and prefix, or why it has none.
pub fn thread_key(
    article: &SourceArticle,
    rule: ThreadKeyRule,
    prefix: &str,
) -> Result<ThreadKey, String> {
    let raw = match rule {
        ThreadKeyRule::PostId => article.id.clone(),
        ThreadKeyRule::Slug if !article.slug.trim().is_empty() => article.slug.clone(),
        ThreadKeyRule::Slug | ThreadKeyRule::Path => {
            let path = url_path(&article.link);
            if rule == ThreadKeyRule::Slug {
                path.rsplit('/')
                    .find(|s| !s.is_empty())
                    .unwrap_or("")
                    .to_string()
            } else {
                path.to_string()
            }
        }
    };
    let mut key = prefix.to_string();
    let mut last_dash = prefix.ends_with('-');
    for c in raw.trim().trim_matches('/').chars() {
        let ok = c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
        let c = if ok { c } else { '-' };
        if c == '-' && last_dash {
            continue;
        }
        last_dash = c == '-';
        key.push(c);
    }
    if key.len() == prefix.len() {
        return Err(format!("the article has no {}", rule_word(rule)));
    }
    ThreadKey::parse(&key).map_err(|e| format!("the thread key {key:?}: {e}"))
}

fn rule_word(rule: ThreadKeyRule) -> &'static str {
    match rule {
        ThreadKeyRule::PostId => "id",
        ThreadKeyRule::Slug => "slug",
        ThreadKeyRule::Path => "URL path",
    }
}

/// The path of a URL (`https://a.id/x/y?z` → `/x/y`), or the text itself if it is a path.
fn url_path(link: &str) -> &str {
    let link = link.trim();
    let rest = link
        .split_once("://")
        .map(|(_, r)| r.find('/').map_or("", |i| &r[i..]))
        .unwrap_or(link);
    rest.split(['?', '#']).next().unwrap_or("")
}

/// Checks and maps what an importer read: every record either becomes a [`PlannedComment`] or
/// a [`Problem`]. A reply whose parent is bad or missing is bad too. Pure: no I/O, no clock.
pub fn plan(
    source: Source,
    site: &str,
    records: Vec<SourceComment>,
    options: &ImportOptions,
) -> ImportPlan {
    let mut bad = Vec::new();
    let mut notes = Vec::new();
    let mut good: Vec<(SourceComment, Submission)> = Vec::new();
    let mut seen = HashSet::new();
    for r in records {
        let problem = |message: String| Problem {
            line: r.line,
            original_id: r.original_id.clone(),
            message,
        };
        if let Some(why) = &r.not_a_comment {
            notes.push(problem(format!("passed over: {why}")));
            continue;
        }
        if let Some(why) = &r.bad {
            bad.push(problem(why.clone()));
            continue;
        }
        if r.original_id.trim().is_empty() {
            bad.push(problem("it has no id".into()));
            continue;
        }
        if !seen.insert(r.original_id.clone()) {
            bad.push(problem(
                "another comment in the file has the same id".into(),
            ));
            continue;
        }
        match check(source, site, &r, options, &mut notes) {
            Ok(submission) => good.push((r, submission)),
            Err(message) => bad.push(problem(message)),
        }
    }
    // Replies: a parent must be in the file, good, in the same thread, and not a cycle.
    let by_id: HashMap<String, usize> = good
        .iter()
        .enumerate()
        .map(|(i, (r, _))| (r.original_id.clone(), i))
        .collect();
    let mut depth: Vec<Option<Result<usize, String>>> = vec![None; good.len()];
    for i in 0..good.len() {
        resolve_depth(i, &good, &by_id, &mut depth);
    }
    let mut comments = Vec::new();
    for (i, (r, mut submission)) in good.into_iter().enumerate() {
        match depth[i]
            .take()
            .unwrap_or_else(|| Err("its replies cannot be followed".into()))
        {
            Ok(d) => {
                submission.parent_id = parent_of(&r)
                    .filter(|p| by_id.contains_key(*p))
                    .map(|p| derived_id(source, site, p));
                comments.push(PlannedComment {
                    original_id: r.original_id,
                    submission,
                    state: r.state,
                    depth: d,
                });
            }
            Err(message) => bad.push(Problem {
                line: r.line,
                original_id: r.original_id,
                message,
            }),
        }
    }
    // Threads show comments in the order they were appended: parents first, then by date as
    // WordPress shows them (a stable sort keeps the file's order among equal dates).
    comments.sort_by_key(|c| (c.depth, c.submission.submitted_at));
    bad.sort_by_key(|p| p.line);
    ImportPlan {
        source,
        comments,
        bad,
        notes,
    }
}

/// The source id of the comment `r` replies to; `0` and empty mean none in every source.
fn parent_of(r: &SourceComment) -> Option<&str> {
    r.parent.as_deref().filter(|p| !p.is_empty() && *p != "0")
}

/// Comments written per batch of an import: their authors' keys are made together first, and
/// a batch stays far below the keys kept in memory (`privacy::keys`).
const IMPORT_CHUNK: usize = 5_000;

/// Most reply levels followed; deeper chains are refused as bad (a cycle is one).
const MAX_REPLY_DEPTH: usize = 1000;

fn resolve_depth(
    start: usize,
    good: &[(SourceComment, Submission)],
    by_id: &HashMap<String, usize>,
    depth: &mut [Option<Result<usize, String>>],
) {
    // Walk up to a comment whose depth is known (or found now), without recursion; `chain`
    // holds the comments below it, the nearest last, and is filled in on the way back.
    let mut chain: Vec<usize> = Vec::new();
    let mut cur = start;
    let top: Result<usize, String> = loop {
        if let Some(known) = &depth[cur] {
            break known.clone();
        }
        if chain.contains(&cur) || chain.len() > MAX_REPLY_DEPTH {
            let cycle = Err("its replies form a cycle or a chain too long to follow".to_string());
            for &i in &chain {
                depth[i] = Some(cycle.clone());
            }
            return;
        }
        let (r, s) = &good[cur];
        let parent = parent_of(r);
        let found = match parent {
            None => Ok(None),
            Some(pid) => match by_id.get(pid) {
                None => Err(format!(
                    "it replies to comment {pid}, which is not in the file or cannot be imported"
                )),
                Some(&p) if good[p].1.thread != s.thread => Err(format!(
                    "it replies to comment {pid}, which is in another thread"
                )),
                Some(&p) => Ok(Some(p)),
            },
        };
        match found {
            Ok(Some(p)) => {
                chain.push(cur);
                cur = p;
            }
            Ok(None) => {
                depth[cur] = Some(Ok(0));
                break Ok(0);
            }
            Err(message) => {
                depth[cur] = Some(Err(message.clone()));
                break Err(message);
            }
        }
    };
    let mut value = top;
    while let Some(i) = chain.pop() {
        value = match value {
            Ok(d) => Ok(d + 1),
            Err(_) => Err("it replies to a comment that cannot be imported".into()),
        };
        depth[i] = Some(value.clone());
    }
}

/// The body of a deleted source comment that kept no text (Isso's mode 4).
const DELETED_BODY: &str = "(dihapus)";

/// Checks one record and builds its submission; the parent is set once all are known.
fn check(
    source: Source,
    site: &str,
    r: &SourceComment,
    options: &ImportOptions,
    notes: &mut Vec<Problem>,
) -> Result<Submission, String> {
    let thread = thread_key(&r.article, options.thread_key, &options.prefix)?;
    let mut body = html::to_text(&r.body_html);
    if body.is_empty() && r.state == SourceState::Deleted {
        // Isso empties a comment deleted while it has replies and keeps it so they stay in
        // place; it is imported deleted (readers never see this body) so its replies can be.
        body = DELETED_BODY.to_string();
    }
    if body.is_empty() {
        return Err("its body is empty once HTML is removed".into());
    }
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(format!(
            "its body has {chars} characters, more than the {MAX_BODY_CHARS} Saring keeps"
        ));
    }
    let created_at = r
        .created_at
        .ok_or_else(|| "its date cannot be read".to_string())?;
    let name = html::to_text(&r.author_name);
    let author_name = if name.is_empty() {
        "Anonim".to_string()
    } else {
        name.chars().take(MAX_NAME_CHARS).collect()
    };
    let email = r.author_email.trim().to_lowercase();
    let author_email = if email.is_empty() || Email::parse(&email).is_ok() {
        email
    } else {
        notes.push(Problem {
            line: r.line,
            original_id: r.original_id.clone(),
            message: "its email is not an address; imported without one".into(),
        });
        String::new()
    };
    let url = r.author_url.trim();
    let author_url = if url.is_empty() {
        None
    } else if url.len() <= input::MAX_URL_LEN && input::is_valid_url(url) {
        Some(url.to_string())
    } else {
        notes.push(Problem {
            line: r.line,
            original_id: r.original_id.clone(),
            message: "its website is not an http(s) URL; imported without one".into(),
        });
        None
    };
    // Stored as the live service stores addresses: the /64 group for IPv6, never more.
    let ip =
        r.ip.trim()
            .parse::<IpAddr>()
            .map(|ip| AddressGroup::of(ip).to_string())
            .unwrap_or_default();
    Ok(Submission {
        comment_id: derived_id(source, site, &r.original_id),
        thread: thread.into(),
        parent_id: None,
        author_name,
        author_email,
        author_url,
        body,
        client: ClientFacts {
            ip,
            user_agent: None,
        },
        captcha_solve_ms: 0,
        pow: None,
        known_reader: None,
        lang: options.lang,
        submitted_at: created_at,
        erased: false,
    })
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Comments written now.
    pub imported: u64,
    /// Comments whose stream was already there (an earlier run of the same import).
    pub already_there: u64,
}

/// The events an imported comment's stream holds: submitted, imported, then its state.
pub fn events_of(comment: &PlannedComment, source: Source, now: DateTime<Utc>) -> Vec<DomainEvent> {
    let s = &comment.submission;
    let at = s.submitted_at;
    let reason = format!("imported from {}", source.name());
    let state = match comment.state {
        SourceState::Published => DomainEvent::CommentPublished { at },
        SourceState::Pending => DomainEvent::CommentHeld { at },
        SourceState::Spam => DomainEvent::CommentMarkedSpam {
            by: Actor::System,
            reason,
            at,
        },
        SourceState::Deleted => DomainEvent::CommentDeleted {
            by: Actor::System,
            reason,
            at,
        },
    };
    vec![
        DomainEvent::CommentSubmitted(s.clone()),
        DomainEvent::CommentImported {
            source: source.name().into(),
            original_id: comment.original_id.clone(),
            at: now,
        },
        state,
    ]
}

/// Appends queued at once on the embedded store. Its one writer thread takes appends in the
/// order they are sent (a FIFO semaphore, then a FIFO channel) and commits those waiting
/// together, so queueing several keeps the order and saves most of the syncs. A remote
/// backend (PostgreSQL, KurrentDB) may commit concurrent appends in any order, which would mix
/// the thread order, so there appends go one at a time.
const CONCURRENT_APPENDS_EMBEDDED: usize = 16;

/// Writes a plan's comments, each as its own stream created with `NoStream`, in the plan's
/// order (parents before replies, then by date); a stream already there (an earlier run) is
/// counted, not written again.
/// `progress` is called after each comment with the number done.
pub async fn write_plan(
    store: &dyn EventStore,
    plan: &ImportPlan,
    now: DateTime<Utc>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ImportReport, MigrateError> {
    let mut report = ImportReport::default();
    let actor = format!("import:{}", plan.source.name());
    let concurrency = if store.backend_name() == "sqlite" {
        CONCURRENT_APPENDS_EMBEDDED
    } else {
        1
    };
    let mut start = 0;
    while start < plan.comments.len() {
        let depth = plan.comments[start].depth;
        let end = plan.comments[start..]
            .iter()
            .position(|c| c.depth != depth)
            .map_or(plan.comments.len(), |n| start + n);
        for level in plan.comments[start..end].chunks(IMPORT_CHUNK) {
            // The store appends concurrent writes in the order they are made only if it need not
            // make keys on the way (`privacy::store`): make this chunk's keys first.
            if let Some(keys) = store.privacy_keys() {
                let mut authors: Vec<String> = level
                    .iter()
                    .map(|c| {
                        crate::privacy::keys::author_of(
                            &c.submission.author_email,
                            &c.submission.client.ip,
                        )
                    })
                    .collect();
                authors.sort_unstable();
                authors.dedup();
                // And the keys of the days their network facts are sealed under.
                let mut days: Vec<chrono::NaiveDate> = level
                    .iter()
                    .map(|c| c.submission.submitted_at.date_naive())
                    .collect();
                days.sort_unstable();
                days.dedup();
                // And a body key per comment.
                let bodies = level.len();
                tokio::task::spawn_blocking(move || keys.prepare(&authors, &days, bodies))
                    .await
                    .map_err(|e| StoreError::Backend(format!("making the authors' keys: {e}")))?
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
            }
            let mut writes = futures::stream::iter(level.iter().map(|c| {
                let actor = actor.clone();
                async move {
                    let metadata = EventMetadata {
                        actor: Some(actor),
                        correlation_id: Some(Uuid::new_v4()),
                        causation_id: None,
                    };
                    let events = events_of(c, plan.source, now)
                        .iter()
                        .map(|e| {
                            crate::service::codec::encode(e)
                                .map(|n| n.with_metadata(metadata.clone()))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let stream = format!("comment-{}", c.submission.comment_id);
                    match store
                        .append(&stream, ExpectedRevision::NoStream, events)
                        .await
                    {
                        Ok(_) => Ok(true),
                        Err(e) if e.is_conflict() => Ok(false),
                        Err(e) => Err(e),
                    }
                }
            }))
            .buffered(concurrency);
            while let Some(written) = writes.next().await {
                if written? {
                    report.imported += 1;
                } else {
                    report.already_there += 1;
                }
                progress(report.imported + report.already_there);
            }
        }
        start = end;
    }
    Ok(report)
}

/// Checks a plan against `skip_bad`: with bad records and without it, nothing may be written.
pub fn refuse_bad(plan: &ImportPlan, options: &ImportOptions) -> Result<(), MigrateError> {
    if !plan.bad.is_empty() && !options.skip_bad {
        return Err(MigrateError::BadRecords(plan.bad.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
