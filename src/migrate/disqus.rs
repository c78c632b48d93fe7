//! The Disqus XML export (Moderation → Export): `<thread>`s with their link and identifier,
//! then `<post>`s pointing at their thread and parent by `dsq:id`, with `isSpam` and
//! `isDeleted` flags. Read for `saring import disqus`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::xml::{GuardedXml, Node};
use super::{MigrateError, SourceArticle, SourceComment, SourceState};

/// What a Disqus export holds.
#[derive(Debug, Clone)]
pub struct DisqusFile {
    /// The forum's short name (part of every derived comment id).
    pub forum: String,
    /// Every post, in file order, with its thread resolved.
    pub comments: Vec<SourceComment>,
}

#[derive(Default)]
struct Post {
    line: u64,
    id: String,
    thread: String,
    parent: Option<String>,
    message: String,
    created_at: String,
    deleted: bool,
    spam: bool,
    name: String,
    email: String,
    ip: String,
}

fn dsq_id(attrs: &[(String, String)]) -> String {
    attrs
        .iter()
        .find(|(k, _)| k == "id")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

fn is_true(s: &str) -> bool {
    s.trim().eq_ignore_ascii_case("true")
}

/// Reads a Disqus export held in memory; refuses hostile or malformed XML with its line.
pub fn read(bytes: &[u8]) -> Result<DisqusFile, MigrateError> {
    let mut x = GuardedXml::new(bytes)?;
    let mut path: Vec<String> = Vec::new();
    let mut threads: HashMap<String, SourceArticle> = HashMap::new();
    let mut thread = SourceArticle::default();
    let mut post: Option<Post> = None;
    let mut posts = Vec::new();
    let mut forum = String::new();
    loop {
        match x.next_node()? {
            Node::Open { name, attrs } => {
                let parent = path.last().map(String::as_str);
                match (parent, name.as_str()) {
                    (None, "disqus") => path.push(name),
                    (None, other) => {
                        return Err(MigrateError::Malformed {
                            line: x.line(),
                            message: format!(
                                "this is not a Disqus export: the root element is <{other}>, not <disqus>"
                            ),
                        });
                    }
                    (Some("disqus"), "thread") => {
                        thread = SourceArticle {
                            id: dsq_id(&attrs),
                            ..SourceArticle::default()
                        };
                        path.push(name);
                    }
                    (Some("disqus"), "post") => {
                        post = Some(Post {
                            line: x.line(),
                            id: dsq_id(&attrs),
                            ..Post::default()
                        });
                        path.push(name);
                    }
                    (Some("thread"), "link") => thread.link = x.text_until_close()?.trim().into(),
                    (Some("thread"), "forum") if forum.is_empty() => {
                        forum = x.text_until_close()?.trim().into()
                    }
                    (Some("thread"), "id") => {
                        // The site's own identifier, when the embed code gave one: the slug.
                        thread.slug = x.text_until_close()?.trim().into()
                    }
                    (Some("post"), "thread") => {
                        if let Some(p) = post.as_mut() {
                            p.thread = dsq_id(&attrs);
                        }
                        x.skip_element()?;
                    }
                    (Some("post"), "parent") => {
                        if let Some(p) = post.as_mut() {
                            p.parent = Some(dsq_id(&attrs)).filter(|s| !s.is_empty());
                        }
                        x.skip_element()?;
                    }
                    (Some("post"), "author") => path.push(name),
                    (
                        Some("post"),
                        field @ ("message" | "createdAt" | "isDeleted" | "isSpam" | "ipAddress"),
                    ) => {
                        let field = field.to_string();
                        let text = x.text_until_close()?;
                        if let Some(p) = post.as_mut() {
                            match field.as_str() {
                                "message" => p.message = text,
                                "createdAt" => p.created_at = text,
                                "isDeleted" => p.deleted = is_true(&text),
                                "isSpam" => p.spam = is_true(&text),
                                _ => p.ip = text,
                            }
                        }
                    }
                    (Some("author"), field @ ("name" | "email")) => {
                        let field = field.to_string();
                        let text = x.text_until_close()?;
                        if let Some(p) = post.as_mut() {
                            if field == "name" {
                                p.name = text;
                            } else {
                                p.email = text;
                            }
                        }
                    }
                    _ => x.skip_element()?,
                }
            }
            Node::Close => match path.pop().as_deref() {
                Some("thread") => {
                    let t = std::mem::take(&mut thread);
                    threads.insert(t.id.clone(), t);
                }
                Some("post") => posts.extend(post.take()),
                _ => {}
            },
            Node::Text(_) => {}
            Node::End => break,
        }
    }
    let comments = posts
        .into_iter()
        .map(|p| {
            let article = threads.get(&p.thread).cloned();
            let created_at = DateTime::parse_from_rfc3339(p.created_at.trim())
                .ok()
                .map(|d| d.with_timezone(&Utc));
            let state = if p.spam {
                SourceState::Spam
            } else if p.deleted {
                SourceState::Deleted
            } else {
                SourceState::Published
            };
            SourceComment {
                line: p.line,
                bad: article
                    .is_none()
                    .then(|| format!("its thread {:?} is not in the file", p.thread)),
                original_id: p.id,
                article: article.unwrap_or_default(),
                parent: p.parent,
                author_name: p.name,
                author_email: p.email,
                author_url: String::new(),
                ip: p.ip,
                body_html: p.message,
                created_at,
                state,
                not_a_comment: None,
            }
        })
        .collect();
    Ok(DisqusFile { forum, comments })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_find_their_thread_parent_and_flags() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
  <thread dsq:id="7"><id>jalan-desa</id><forum>beritacontoh</forum><link>https://berita.contoh.id/2024/05/jalan-desa/</link></thread>
  <post dsq:id="100"><message><![CDATA[<p>Halo</p>]]></message><createdAt>2024-05-01T10:05:00Z</createdAt>
    <isDeleted>false</isDeleted><isSpam>true</isSpam><author><name>Sari</name><email>sari@contoh.id</email></author>
    <ipAddress>203.0.113.9</ipAddress><thread dsq:id="7"/><parent dsq:id="99"/></post>
</disqus>"#;
        let file = read(xml.as_bytes()).unwrap();
        assert_eq!(file.forum, "beritacontoh");
        let [c] = file.comments.as_slice() else {
            panic!()
        };
        assert_eq!(c.article.slug, "jalan-desa");
        assert_eq!(c.parent.as_deref(), Some("99"));
        assert_eq!(c.state, SourceState::Spam);
        assert_eq!((c.author_name.as_str(), c.line), ("Sari", 4));
        assert!(c.bad.is_none());
    }
}
