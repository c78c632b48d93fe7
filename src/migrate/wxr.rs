//! WordPress eXtended RSS (WXR 1.2), the file WordPress writes under Tools → Export: read for
//! `saring import wxr`, written for `saring export wxr`.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::xml::{GuardedXml, Node};
use super::{MigrateError, SourceArticle, SourceComment, SourceState};
use crate::domain::CommentStatus;

/// What a WXR file holds: the site's address and its comments, in file order.
#[derive(Debug, Clone)]
pub struct WxrFile {
    /// `wp:base_site_url` (or the channel's link): part of every derived comment id, so two
    /// sites' comment 5 stay two comments.
    pub site: String,
    /// Every `wp:comment`, pingbacks included (marked as not comments).
    pub comments: Vec<SourceComment>,
}

/// Reads a WXR file held in memory. Refuses anything that is not well-formed, hostile XML (see
/// [`super::xml`]) or not an `<rss>` document, with the line of the problem.
pub fn read(bytes: &[u8]) -> Result<WxrFile, MigrateError> {
    let mut x = GuardedXml::new(bytes)?;
    let mut path: Vec<String> = Vec::new();
    let mut site = String::new();
    let mut channel_link = String::new();
    let mut article = SourceArticle::default();
    let mut in_item: Vec<SourceComment> = Vec::new();
    let mut comment: Option<(SourceComment, Fields)> = None;
    let mut comments = Vec::new();
    loop {
        let node = x.next_node()?;
        match node {
            Node::Open { name, .. } => {
                let parent = path.last().map(String::as_str);
                match (parent, name.as_str()) {
                    (None, "rss") | (Some("rss"), "channel") => path.push(name),
                    (None, other) => {
                        return Err(MigrateError::Malformed {
                            line: x.line(),
                            message: format!(
                                "this is not a WordPress export: the root element is <{other}>, not <rss>"
                            ),
                        });
                    }
                    (Some("channel"), "item") => {
                        article = SourceArticle::default();
                        path.push(name);
                    }
                    (Some("channel"), "base_site_url") => site = x.text_until_close()?,
                    (Some("channel"), "link") => {
                        // `<atom:link href=…/>` has the same local name and no text.
                        let text = x.text_until_close()?;
                        if !text.trim().is_empty() {
                            channel_link = text;
                        }
                    }
                    (Some("item"), "comment") => {
                        let line = x.line();
                        comment = Some((empty_comment(line), Fields::default()));
                        path.push(name);
                    }
                    (Some("item"), "post_id") => article.id = x.text_until_close()?.trim().into(),
                    (Some("item"), "post_name") => {
                        article.slug = x.text_until_close()?.trim().into()
                    }
                    (Some("item"), "link") => article.link = x.text_until_close()?.trim().into(),
                    (Some("comment"), field) if Fields::wanted(field) => {
                        let text = x.text_until_close()?;
                        if let Some((_, fields)) = comment.as_mut() {
                            fields.set(field, text);
                        }
                    }
                    _ => x.skip_element()?,
                }
            }
            Node::Close => match path.pop().as_deref() {
                Some("comment") => {
                    if let Some((c, fields)) = comment.take() {
                        in_item.push(fields.into_comment(c));
                    }
                }
                Some("item") => {
                    for mut c in in_item.drain(..) {
                        c.article = article.clone();
                        comments.push(c);
                    }
                }
                _ => {}
            },
            Node::Text(_) => {}
            Node::End => break,
        }
    }
    if site.trim().is_empty() {
        site = channel_link;
    }
    Ok(WxrFile {
        site: site.trim().to_string(),
        comments,
    })
}

fn empty_comment(line: u64) -> SourceComment {
    SourceComment {
        line,
        original_id: String::new(),
        article: SourceArticle::default(),
        parent: None,
        author_name: String::new(),
        author_email: String::new(),
        author_url: String::new(),
        ip: String::new(),
        body_html: String::new(),
        created_at: None,
        state: SourceState::Pending,
        not_a_comment: None,
        bad: None,
    }
}

/// The `wp:comment_*` values of one comment, as text.
#[derive(Default)]
struct Fields {
    id: String,
    author: String,
    email: String,
    url: String,
    ip: String,
    date: String,
    date_gmt: String,
    content: String,
    approved: String,
    kind: String,
    parent: String,
}

impl Fields {
    fn wanted(name: &str) -> bool {
        matches!(
            name,
            "comment_id"
                | "comment_author"
                | "comment_author_email"
                | "comment_author_url"
                | "comment_author_IP"
                | "comment_date"
                | "comment_date_gmt"
                | "comment_content"
                | "comment_approved"
                | "comment_type"
                | "comment_parent"
        )
    }

    fn set(&mut self, name: &str, text: String) {
        let slot = match name {
            "comment_id" => &mut self.id,
            "comment_author" => &mut self.author,
            "comment_author_email" => &mut self.email,
            "comment_author_url" => &mut self.url,
            "comment_author_IP" => &mut self.ip,
            "comment_date" => &mut self.date,
            "comment_date_gmt" => &mut self.date_gmt,
            "comment_content" => &mut self.content,
            "comment_approved" => &mut self.approved,
            "comment_type" => &mut self.kind,
            _ => &mut self.parent,
        };
        *slot = text;
    }

    fn into_comment(self, mut c: SourceComment) -> SourceComment {
        c.original_id = self.id.trim().to_string();
        c.author_name = self.author;
        c.author_email = self.email;
        c.author_url = self.url;
        c.ip = self.ip;
        c.body_html = self.content;
        let parent = self.parent.trim();
        c.parent = (!parent.is_empty() && parent != "0").then(|| parent.to_string());
        // WordPress writes `0000-00-00 00:00:00` as the GMT date of some old comments; their
        // local date is then the best there is.
        c.created_at = parse_date(&self.date_gmt).or_else(|| parse_date(&self.date));
        match self.approved.trim() {
            "1" | "approve" => c.state = SourceState::Published,
            "0" | "hold" => c.state = SourceState::Pending,
            "spam" => c.state = SourceState::Spam,
            "trash" | "post-trashed" => c.state = SourceState::Deleted,
            other => {
                c.bad = Some(format!(
                    "its approval state {other:?} is not 1, 0, spam or trash"
                ))
            }
        }
        match self.kind.trim() {
            "pingback" | "trackback" => {
                c.not_a_comment = Some(format!("a {}, not a comment", self.kind.trim()))
            }
            _ => {}
        }
        c
    }
}

/// A WordPress date (`2024-05-01 03:00:00`, no zone: read as UTC).
fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S")
        .ok()
        .filter(|d| d.and_utc().timestamp() > 0)
        .map(|d| d.and_utc())
}

/// Text as XML character data.
fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// Text as one CDATA section, split where it holds `]]>` as WordPress does.
fn cdata(s: &str) -> String {
    format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"))
}

/// The address as stored (`203.0.113.7/32`, `2001:db8::/64`) without its prefix length.
fn address(ip_key: &str) -> &str {
    ip_key.split('/').next().unwrap_or("")
}

/// Writes every thread of `projections` as a WXR 1.2 document: one `<item>` (a post) per
/// thread, its key as title and slug, and every comment with its state (`1`, `0`, `spam`,
/// `trash` for deleted and rejected ones), numbered from 1 with replies pointing at their
/// parent's number; bodies are the text as submitted. `site` is the address written as the site's (e.g. https://berita.contoh.id).
pub fn write(log: &super::events::FoldedLog, site: &str, out: &mut String) {
    let projections = &log.projections;
    let site = site.trim_end_matches('/');
    let mut threads: Vec<&String> = projections.threads.keys().collect();
    threads.sort();
    let mut by_thread: std::collections::HashMap<&str, Vec<&crate::projections::CommentRecord>> =
        std::collections::HashMap::new();
    for c in projections.comments.values() {
        by_thread.entry(c.thread.as_str()).or_default().push(c);
    }
    let mut numbers = std::collections::HashMap::new();
    let mut all: Vec<&crate::projections::CommentRecord> = projections.comments.values().collect();
    all.sort_by_key(|c| c.seq);
    for (i, c) in all.iter().enumerate() {
        numbers.insert(c.id, i + 1);
    }
    out.push_str(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n",
        "<rss version=\"2.0\"\n",
        "\txmlns:excerpt=\"http://wordpress.org/export/1.2/excerpt/\"\n",
        "\txmlns:content=\"http://purl.org/rss/1.0/modules/content/\"\n",
        "\txmlns:wfw=\"http://wellformedweb.org/CommentAPI/\"\n",
        "\txmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n",
        "\txmlns:wp=\"http://wordpress.org/export/1.2/\"\n",
        ">\n<channel>\n"
    ));
    let _ = writeln!(out, "\t<title>Saring export</title>");
    let _ = writeln!(out, "\t<link>{}</link>", esc(site));
    out.push_str("\t<wp:wxr_version>1.2</wp:wxr_version>\n");
    let _ = writeln!(out, "\t<wp:base_site_url>{}</wp:base_site_url>", esc(site));
    let _ = writeln!(out, "\t<wp:base_blog_url>{}</wp:base_blog_url>", esc(site));
    for (n, thread) in threads.iter().enumerate() {
        let mut comments = by_thread.remove(thread.as_str()).unwrap_or_default();
        comments.sort_by_key(|c| c.seq);
        out.push_str("\t<item>\n");
        let _ = writeln!(out, "\t\t<title>{}</title>", cdata(thread));
        let _ = writeln!(out, "\t\t<link>{}/{}/</link>", esc(site), esc(thread));
        let _ = writeln!(out, "\t\t<wp:post_id>{}</wp:post_id>", n + 1);
        let _ = writeln!(out, "\t\t<wp:post_name>{}</wp:post_name>", cdata(thread));
        out.push_str("\t\t<wp:status><![CDATA[publish]]></wp:status>\n");
        out.push_str("\t\t<wp:post_type><![CDATA[post]]></wp:post_type>\n");
        let open = if projections.is_closed(thread) {
            "closed"
        } else {
            "open"
        };
        let _ = writeln!(
            out,
            "\t\t<wp:comment_status>{}</wp:comment_status>",
            cdata(open)
        );
        for c in comments {
            let approved = match c.status {
                Some(CommentStatus::Published) => "1",
                Some(CommentStatus::Pending) | None => "0",
                Some(CommentStatus::Spam) => "spam",
                Some(CommentStatus::Rejected) | Some(CommentStatus::Deleted) => "trash",
            };
            let date = c.created_at.format("%Y-%m-%d %H:%M:%S").to_string();
            let parent = c
                .parent_id
                .and_then(|p| numbers.get(&p))
                .copied()
                .unwrap_or(0);
            out.push_str("\t\t<wp:comment>\n");
            let _ = writeln!(
                out,
                "\t\t\t<wp:comment_id>{}</wp:comment_id>",
                numbers[&c.id]
            );
            let _ = writeln!(
                out,
                "\t\t\t<wp:comment_author>{}</wp:comment_author>",
                cdata(&c.author_name)
            );
            let _ = writeln!(
                out,
                "\t\t\t<wp:comment_author_email>{}</wp:comment_author_email>",
                cdata(&c.author_email)
            );
            let _ = writeln!(
                out,
                "\t\t\t<wp:comment_author_url>{}</wp:comment_author_url>",
                esc(c.author_url.as_deref().unwrap_or(""))
            );
            let _ = writeln!(
                out,
                "\t\t\t<wp:comment_author_IP>{}</wp:comment_author_IP>",
                cdata(address(&c.ip_key))
            );
            let _ = writeln!(
                out,
                "\t\t\t<wp:comment_date>{}</wp:comment_date>",
                cdata(&date)
            );
            let _ = writeln!(
                out,
                "\t\t\t<wp:comment_date_gmt>{}</wp:comment_date_gmt>",
                cdata(&date)
            );
            let _ = writeln!(
                out,
                "\t\t\t<wp:comment_content>{}</wp:comment_content>",
                cdata(log.bodies.get(&c.id).map_or("", String::as_str))
            );
            let _ = writeln!(
                out,
                "\t\t\t<wp:comment_approved>{}</wp:comment_approved>",
                cdata(approved)
            );
            out.push_str("\t\t\t<wp:comment_type><![CDATA[comment]]></wp:comment_type>\n");
            let _ = writeln!(out, "\t\t\t<wp:comment_parent>{parent}</wp:comment_parent>");
            out.push_str("\t\t\t<wp:comment_user_id>0</wp:comment_user_id>\n");
            out.push_str("\t\t</wp:comment>\n");
        }
        out.push_str("\t</item>\n");
    }
    out.push_str("</channel>\n</rss>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
	<link>https://berita.contoh.id</link>
	<wp:base_site_url>https://berita.contoh.id</wp:base_site_url>
	<item>
		<link>https://berita.contoh.id/2024/05/jalan-desa/</link>
		<wp:post_id>12</wp:post_id>
		<wp:post_name><![CDATA[jalan-desa]]></wp:post_name>
		<wp:comment>
			<wp:comment_id>5</wp:comment_id>
			<wp:comment_author><![CDATA[Budi]]></wp:comment_author>
			<wp:comment_date><![CDATA[2024-05-01 10:00:00]]></wp:comment_date>
			<wp:comment_date_gmt><![CDATA[0000-00-00 00:00:00]]></wp:comment_date_gmt>
			<wp:comment_content><![CDATA[<p>Bagus ]]]]><![CDATA[> sekali</p>]]></wp:comment_content>
			<wp:comment_approved><![CDATA[spam]]></wp:comment_approved>
			<wp:comment_parent>0</wp:comment_parent>
			<wp:commentmeta><wp:meta_key><![CDATA[akismet]]></wp:meta_key></wp:commentmeta>
		</wp:comment>
	</item>
</channel>
</rss>"#;

    #[test]
    fn a_comment_is_read_with_its_post_state_and_fallback_date() {
        let file = read(SAMPLE.as_bytes()).unwrap();
        assert_eq!(file.site, "https://berita.contoh.id");
        let [c] = file.comments.as_slice() else {
            panic!("{:?}", file.comments)
        };
        assert_eq!(c.original_id, "5");
        assert_eq!(c.line, 10);
        assert_eq!(c.article.id, "12");
        assert_eq!(c.article.slug, "jalan-desa");
        assert_eq!(c.state, SourceState::Spam);
        assert_eq!(c.body_html, "<p>Bagus ]]> sekali</p>");
        assert_eq!(
            c.created_at.unwrap().to_rfc3339(),
            "2024-05-01T10:00:00+00:00"
        );
        assert_eq!(c.parent, None);
    }

    #[test]
    fn another_document_is_refused_as_not_wordpress() {
        let err = read(b"<?xml version=\"1.0\"?>\n<html></html>").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(err.to_string().contains("not a WordPress export"), "{err}");
    }
}
