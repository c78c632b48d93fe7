//! Comment HTML from other systems turned into Saring's plain text.
//!
//! A small converter rather than an HTML engine: comment bodies from WordPress, Disqus and Isso
//! use a handful of inline tags (`<p>`, `<br>`, `<a>`, `<em>`, `<blockquote>`, lists), and the
//! result is plain text that [`crate::projections::render::body_html`] escapes again on output,
//! so no markup, whatever this converter misses, can ever reach a page. Block tags become line
//! breaks, `<script>` and `<style>` lose their content, every other tag is dropped and its text
//! kept, and HTML's named and numeric entities are decoded.

/// The text of an HTML fragment: tags dropped, blocks as newlines, entities decoded, runs of
/// spaces collapsed, at most one blank line in a row, trimmed.
pub fn to_text(html: &str) -> String {
    let mut raw = String::with_capacity(html.len());
    let mut rest = html;
    let mut skipping: Option<&'static str> = None;
    while let Some(lt) = rest.find('<') {
        if skipping.is_none() {
            raw.push_str(&rest[..lt]);
        }
        let after = &rest[lt + 1..];
        let starts_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        if !starts_tag {
            if skipping.is_none() {
                raw.push('<');
            }
            rest = after;
            continue;
        }
        let Some(gt) = tag_end(after) else {
            // An unclosed `<tag` to the end: drop it, as a browser would.
            rest = "";
            break;
        };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(skip) = skipping {
            if closing && name == skip {
                skipping = None;
            }
            continue;
        }
        match name.as_str() {
            "script" | "style" if !closing => {
                skipping = Some(if name == "script" { "script" } else { "style" })
            }
            "br" => raw.push('\n'),
            "p" | "div" | "blockquote" | "pre" | "ul" | "ol" | "table" | "h1" | "h2" | "h3"
            | "h4" | "h5" | "h6" => raw.push_str("\n\n"),
            "li" if !closing => raw.push_str("\n- "),
            "tr" => raw.push('\n'),
            _ => {}
        }
    }
    if skipping.is_none() {
        raw.push_str(rest);
    }
    let decoded = html_escape::decode_html_entities(&raw);
    tidy(&decoded)
}

/// Where a tag that starts at `s` ends (the index of its `>`), skipping quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn tidy(text: &str) -> String {
    let text = crate::domain::input::normalise_newlines(text);
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0usize;
    for line in text.split('\n') {
        let collapsed = line
            .split(|c: char| c.is_whitespace())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let collapsed: String = collapsed
            .chars()
            .filter(|c| !c.is_control() || *c == '\t')
            .collect();
        if collapsed.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(&collapsed);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paragraphs_breaks_and_entities_become_text() {
        assert_eq!(
            to_text(
                "<p>Halo &amp; selamat</p><p>baris<br/>dua &#8211; <a href=\"x\">tautan</a></p>"
            ),
            "Halo & selamat\n\nbaris\ndua \u{2013} tautan"
        );
    }

    #[test]
    fn wordpress_newlines_stay_paragraphs_and_scripts_vanish() {
        assert_eq!(
            to_text("Satu\r\n\r\nDua <script>alert(1)</script><b>tebal</b> 3 < 4"),
            "Satu\n\nDua tebal 3 < 4"
        );
        assert_eq!(to_text("<img src=x onerror=alert(1)>"), "");
        assert_eq!(to_text("a <a title=\"x>y\">b</a>"), "a b");
    }

    proptest! {
        #[test]
        fn tags_go_and_no_control_character_comes_out(s in "[a-z <>/;]{0,200}") {
            let out = to_text(&format!("<b>{s}</b>"));
            prop_assert!(!out.starts_with("<b>"));
            prop_assert!(out.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'));
            prop_assert_eq!(out.trim(), out.as_str());
        }
    }
}
