//! Turning a comment's plain text into safe HTML: everything escaped, bare links made into
//! `rel="nofollow ugc noopener"` anchors, blank lines into paragraphs and single newlines into
//! `<br>`. The output only ever contains `<p>`, `<br>` and `<a>` with an http(s) `href`.

use linkify::{LinkFinder, LinkKind};

/// What a comment whose author's data was erased shows instead of its body, in both of
/// Saring's languages (the record is shared by every reader; the widget shows only its own
/// language's line, see `erased` in the thread's JSON).
pub const ERASED_HTML: &str = "<p class=\"saring-erased\" lang=\"id\">Dihapus atas permintaan \
     penulis.</p><p class=\"saring-erased\" lang=\"en\">Deleted at the author's request.</p>";

/// What a spam or rejected comment shows to moderators once the retention pass purged its body
/// (`BodyPurged`, see docs/privacy.md), in both of Saring's languages.
pub const PURGED_HTML: &str = "<p class=\"saring-purged\" lang=\"id\">Isi dihapus setelah masa \
     simpan.</p><p class=\"saring-purged\" lang=\"en\">Body purged after the retention period.</p>";

/// Renders plain text as safe HTML.
pub fn body_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4 + 16);
    let finder = {
        let mut f = LinkFinder::new();
        f.kinds(&[LinkKind::Url]);
        f
    };
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str("<p>");
        for (i, line) in paragraph.split('\n').enumerate() {
            if i > 0 {
                out.push_str("<br>");
            }
            for span in finder.spans(line) {
                let s = span.as_str();
                let is_web = span.kind() == Some(&LinkKind::Url) && {
                    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
                    lower.starts_with("http://") || lower.starts_with("https://")
                };
                if is_web {
                    out.push_str("<a href=\"");
                    html_escape::encode_double_quoted_attribute_to_string(s, &mut out);
                    out.push_str("\" rel=\"nofollow ugc noopener\">");
                    html_escape::encode_text_to_string(s, &mut out);
                    out.push_str("</a>");
                } else {
                    html_escape::encode_text_to_string(s, &mut out);
                }
            }
        }
        out.push_str("</p>");
    }
    out
}

/// The plain text back from [`body_html`]'s output: tags dropped, entities decoded, paragraphs
/// and line breaks as newlines. The records keep only the rendered body, and the site-learned
/// model must see the text as the filter saw it.
pub fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = &rest[open..];
            break;
        };
        let tag = &rest[open..open + close + 1];
        if tag == "<br>" || (tag == "<p>" && !text.is_empty()) {
            text.push('\n');
        }
        rest = &rest[open + close + 1..];
    }
    text.push_str(rest);
    html_escape::decode_html_entities(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_markup_and_keeps_paragraphs() {
        let html =
            body_html("<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n\nParagraf dua");
        assert_eq!(
            html,
            "<p>&lt;script&gt;alert(1)&lt;/script&gt;<br>&lt;img src=x onerror=alert(1)&gt;</p><p>Paragraf dua</p>"
        );
    }

    #[test]
    fn links_become_nofollow_anchors_but_javascript_does_not() {
        let html = body_html("Lihat https://contoh.id/a?b=1&c=2 dan javascript:alert(1) \"x\"");
        assert!(html.contains(
            "<a href=\"https://contoh.id/a?b=1&amp;c=2\" rel=\"nofollow ugc noopener\">https://contoh.id/a?b=1&amp;c=2</a>"
        ), "{html}");
        assert!(!html.contains("href=\"javascript"));
    }

    proptest! {
        #[test]
        fn output_never_holds_raw_markup_from_input(text in ".{0,200}") {
            let html = body_html(&text);
            let stripped = html
                .replace("<p>", "").replace("</p>", "").replace("<br>", "").replace("</a>", "");
            // After removing the tags we emit ourselves, only anchors' openings may hold '<'.
            for (i, _) in stripped.match_indices('<') {
                prop_assert!(stripped[i..].starts_with("<a href=\"http"));
            }
            prop_assert!(!html.contains("<script"));
        }
    }

    proptest! {
        #[test]
        fn plain_text_gives_back_the_text_of_a_line(s in "[^\n]{0,80}") {
            prop_assert_eq!(plain_text(&body_html(&s)), s.trim());
        }
    }
}
