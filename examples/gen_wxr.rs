//! Writes a WordPress export (WXR 1.2) with N comments to standard output, for measuring
//! `saring import wxr` (docs/migrate.md):
//!
//! ```text
//! cargo run --release --example gen_wxr -- 10000 > /tmp/wxr-10k.xml
//! time target/release/saring import wxr /tmp/wxr-10k.xml --data-dir /tmp/wxr-10k-data
//! ```
//!
//! 50 comments per post; every third comment replies to the one before it, one in twenty is
//! pending, one in fifty spam and one in a hundred in the trash; bodies are HTML paragraphs.

use std::io::Write;

fn main() -> std::io::Result<()> {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    writeln!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:wfw="http://wellformedweb.org/CommentAPI/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
	<title>Berita Contoh</title>
	<link>https://berita.contoh.id</link>
	<wp:wxr_version>1.2</wp:wxr_version>
	<wp:base_site_url>https://berita.contoh.id</wp:base_site_url>"#
    )?;
    let per_post = 50;
    let mut id = 0;
    let mut post = 0;
    while id < n {
        post += 1;
        writeln!(
            out,
            "\t<item>\n\t\t<title><![CDATA[Berita {post}]]></title>\n\t\t<link>https://berita.contoh.id/2024/05/berita-{post}/</link>\n\t\t<wp:post_id>{post}</wp:post_id>\n\t\t<wp:post_name><![CDATA[berita-{post}]]></wp:post_name>\n\t\t<wp:post_type><![CDATA[post]]></wp:post_type>"
        )?;
        for i in 0..per_post.min(n - id) {
            id += 1;
            let parent = if i > 0 && id % 3 == 0 { id - 1 } else { 0 };
            let approved = match id {
                x if x % 100 == 0 => "trash",
                x if x % 50 == 0 => "spam",
                x if x % 20 == 0 => "0",
                _ => "1",
            };
            let (h, m) = ((id / 60) % 24, id % 60);
            writeln!(
                out,
                "\t\t<wp:comment>\n\t\t\t<wp:comment_id>{id}</wp:comment_id>\n\t\t\t<wp:comment_author><![CDATA[Pembaca {id}]]></wp:comment_author>\n\t\t\t<wp:comment_author_email><![CDATA[pembaca{id}@contoh.id]]></wp:comment_author_email>\n\t\t\t<wp:comment_author_url></wp:comment_author_url>\n\t\t\t<wp:comment_author_IP><![CDATA[203.0.113.{ip}]]></wp:comment_author_IP>\n\t\t\t<wp:comment_date><![CDATA[2024-05-01 {h:02}:{m:02}:00]]></wp:comment_date>\n\t\t\t<wp:comment_date_gmt><![CDATA[2024-05-01 {h:02}:{m:02}:00]]></wp:comment_date_gmt>\n\t\t\t<wp:comment_content><![CDATA[<p>Komentar nomor {id} tentang berita {post}.</p>\n\n<p>Jalan desa perlu diperbaiki &amp; dirawat.</p>]]></wp:comment_content>\n\t\t\t<wp:comment_approved><![CDATA[{approved}]]></wp:comment_approved>\n\t\t\t<wp:comment_type><![CDATA[comment]]></wp:comment_type>\n\t\t\t<wp:comment_parent>{parent}</wp:comment_parent>\n\t\t\t<wp:comment_user_id>0</wp:comment_user_id>\n\t\t</wp:comment>",
                ip = id % 250 + 1,
            )?;
        }
        writeln!(out, "\t</item>")?;
    }
    writeln!(out, "</channel>\n</rss>")?;
    out.flush()
}
