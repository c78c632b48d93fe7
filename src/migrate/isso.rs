//! Isso's SQLite database (`comments.db`): `threads` (id, uri, title) and `comments` (tid, id,
//! parent, created, mode, remote_addr, text, author, email, website). Read, never written, for
//! `saring import isso`.
//!
//! Isso's `mode` is 1 for a published comment, 2 for one waiting in the moderation queue and 4
//! for one deleted while it had replies (Isso keeps it, emptied, so the replies stay in place;
//! one deleted without replies is gone from the database).
//!
//! What a real Isso (0.13, 0.14) stores, as `tests/data/make_isso_db.py` shows by running it:
//! `text` is what the reader typed (Markdown source; Isso escapes any HTML in it when it
//! renders, so `<b>` shows as `<b>`), hence it is taken as plain text, not as HTML; `author`,
//! `email` and `website` are stored HTML-escaped (`Budi &amp; Rekan`), hence decoded;
//! `remote_addr` is already masked to the /24 (IPv4) or /48 (IPv6).

use std::path::Path;

use chrono::DateTime;
use rusqlite::OpenFlags;

use super::{MigrateError, SourceArticle, SourceComment, SourceState};

/// The site part of derived ids: Isso keeps no site name, so comments of one Isso database are
/// told apart by their id alone.
pub const SITE: &str = "isso";

/// Reads every comment of an Isso database, opened read-only.
pub fn read(path: &Path) -> Result<(String, Vec<SourceComment>), MigrateError> {
    let sqlite = |what: &str| {
        let what = format!("{what} {}", path.display());
        move |source| MigrateError::Sqlite { what, source }
    };
    if !path.is_file() {
        return Err(MigrateError::io(
            format!("opening {}", path.display()),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let db = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite("opening the Isso database"))?;
    let mut stmt = db
        .prepare(
            "SELECT c.id, c.tid, t.uri, c.parent, c.created, c.mode, c.remote_addr, c.text,
                    c.author, c.email, c.website
             FROM comments c LEFT JOIN threads t ON t.id = c.tid ORDER BY c.id",
        )
        .map_err(sqlite(
            "reading the comments of the Isso database (is it one?)",
        ))?;
    let rows = stmt
        .query_map([], |row| {
            let id: i64 = row.get(0)?;
            let tid: Option<i64> = row.get(1)?;
            let uri: Option<String> = row.get(2)?;
            let parent: Option<i64> = row.get(3)?;
            let created: Option<f64> = row.get(4)?;
            let mode: Option<i64> = row.get(5)?;
            let text = |i| {
                row.get::<_, Option<String>>(i)
                    .map(Option::unwrap_or_default)
            };
            let state = match mode {
                Some(1) => Ok(SourceState::Published),
                Some(2) => Ok(SourceState::Pending),
                Some(4) => Ok(SourceState::Deleted),
                other => Err(format!("its mode {other:?} is not 1, 2 or 4")),
            };
            Ok(SourceComment {
                line: 0,
                original_id: id.to_string(),
                article: SourceArticle {
                    id: tid.map(|t| t.to_string()).unwrap_or_default(),
                    slug: String::new(),
                    link: uri.clone().unwrap_or_default(),
                },
                parent: parent.map(|p| p.to_string()),
                author_name: text(8)?,
                author_email: unescaped(text(9)?),
                author_url: unescaped(text(10)?),
                ip: text(6)?,
                // Plain text for the importer's HTML-to-text step: escaped here, decoded there.
                body_html: html_escape::encode_text(&text(7)?).into_owned(),
                created_at: created
                    .filter(|c| c.is_finite() && *c > 0.0)
                    .and_then(|c| DateTime::from_timestamp_millis((c * 1000.0) as i64)),
                bad: match (&state, &uri) {
                    (Err(why), _) => Some(why.clone()),
                    (_, None) => Some("its thread is not in the database".into()),
                    _ => None,
                },
                state: state.unwrap_or(SourceState::Pending),
                not_a_comment: None,
            })
        })
        .map_err(sqlite("reading the Isso database"))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(sqlite("reading a comment of the Isso database"))?);
    }
    Ok((SITE.to_string(), out))
}

/// A field Isso stored HTML-escaped, as it was typed.
fn unescaped(field: String) -> String {
    html_escape::decode_html_entities(&field).into_owned()
}
