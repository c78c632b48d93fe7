//! The thread and comment form as a plain HTML page, for readers without JavaScript.
//!
//! `render_embed` is a pure function from plain data to a complete HTML document: the HTTP layer
//! gathers the thread, a fresh captcha and whatever the reader typed, and this module only
//! writes markup. It speaks the same words and wears the same styles as `widget.js` (the CSS is
//! taken from the script itself), so a reader sees one product with or without JavaScript.
//!
//! Every string that a reader or the request could have influenced goes through `html-escape`;
//! only `body_html`, which the server produced from escaped text, is inserted as HTML.

use chrono::{DateTime, Datelike, Timelike, Utc};
use html_escape::{encode_double_quoted_attribute_to_string, encode_text_to_string};
use serde::Deserialize;

use super::messages::{self, EmbedWords as Text, TimeUnit, embed_words as text};
use crate::i18n::Lang;

/// The comment widget served at `GET /widget.js`: plain JavaScript, no build step.
pub const WIDGET_JS: &str = include_str!("assets/widget.js");

/// The demo article page served at `GET /demo` (thread key `demo-artikel`).
pub const DEMO_HTML: &str = include_str!("assets/demo.html");

/// Replies nested deeper than this are shown flat at this depth, so a hostile or broken thread
/// cannot make the renderer recurse without bound (the server already limits depth).
const MAX_DEPTH: usize = 8;

/// One approved (or the reader's own pending) comment, shaped like the public thread API's JSON so
/// the HTTP layer can deserialize its cached thread bytes straight into it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EmbedComment {
    /// Comment id (a UUID); becomes the `comment-<id>` anchor the form redirect points at.
    pub id: String,
    /// Display name as the author typed it (plain text, escaped here).
    #[serde(default)]
    pub author_name: String,
    /// The author's website; linked with `rel="nofollow ugc"` only when it is http(s).
    #[serde(default)]
    pub author_url: Option<String>,
    /// The body as safe HTML produced by the server (only `<p>`, `<br>` and safe `<a>`).
    #[serde(default)]
    pub body_html: String,
    /// When the comment was submitted.
    pub created_at: DateTime<Utc>,
    /// True for the reader's own comment that waits for a moderator.
    #[serde(default)]
    pub pending: bool,
    /// Replies, oldest first.
    #[serde(default)]
    pub replies: Vec<EmbedComment>,
}

/// One page of a thread as the public API returns it; deserialize the thread JSON into this.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct EmbedThread {
    /// Approved comments in the whole thread, replies included.
    #[serde(default)]
    pub total: u64,
    /// Whether the thread accepts no more comments.
    #[serde(default)]
    pub closed: bool,
    /// Top-level comments of this page with their replies.
    #[serde(default)]
    pub comments: Vec<EmbedComment>,
    /// The page number shown (1-based).
    #[serde(default)]
    pub page: u32,
    /// The next page, if any.
    #[serde(default)]
    pub next: Option<u32>,
}

/// The arithmetic challenge to show in the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedCaptcha<'a> {
    /// Signed token, sent back in the hidden `captcha_token` field.
    pub token: &'a str,
    /// The visible question with a `[ ]` blank, e.g. `[ ] − 3 = 3`; the input goes in the blank.
    pub question: &'a str,
    /// The same question in words for screen readers.
    pub prompt: &'a str,
}

/// What the reader typed, put back into the form after an error so nothing is lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FormValues<'a> {
    /// `author`: the name.
    pub author: &'a str,
    /// `email`: never published, only put back into the reader's own form.
    pub email: &'a str,
    /// `url`: the website.
    pub url: &'a str,
    /// `comment`: the text.
    pub comment: &'a str,
    /// `comment_parent`: the id of the comment being answered, or empty.
    pub parent: &'a str,
}

/// A refused submission: a sentence for the whole form and messages per field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmbedError<'a> {
    /// What went wrong, in the page's language.
    pub message: &'a str,
    /// `(field, message)` pairs. Field names may be the API's (`author_name`, `author_email`,
    /// `author_url`, `body`, `captcha`) or the form's (`author`, `email`, `url`, `comment`,
    /// `captcha_answer`); unknown names are listed under the summary.
    pub fields: Vec<(&'a str, &'a str)>,
}

/// The outcome of a post that just succeeded, shown as a status line at the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostedNotice {
    /// True when the comment waits for a moderator ("menunggu moderasi").
    pub pending: bool,
}

/// Everything the no-JavaScript page shows. Plain data: no I/O happens while rendering.
#[derive(Debug, Clone)]
pub struct EmbedPage<'a> {
    /// The site's key for the article (`comment_post_ID`).
    pub thread: &'a str,
    /// Language of every word on the page.
    pub lang: Lang,
    /// The moment relative times ("5 menit yang lalu") are measured from.
    pub now: DateTime<Utc>,
    /// Top-level comments of this page with their replies.
    pub comments: &'a [EmbedComment],
    /// Approved comments in the whole thread.
    pub total: u64,
    /// The next page of top-level comments, if any; rendered as a link.
    pub next_page: Option<u32>,
    /// A closed thread shows its comments and no form.
    pub closed: bool,
    /// The challenge for the form; `None` when none could be issued (the error then says why).
    pub captcha: Option<EmbedCaptcha<'a>>,
    /// The reader's values to put back into the form.
    pub form: FormValues<'a>,
    /// Why the last submission was refused, if it was.
    pub error: Option<EmbedError<'a>>,
    /// Set after a successful post that came back to this page.
    pub posted: Option<PostedNotice>,
    /// The article to go back to (`?return=`); becomes `redirect_to` and a "back" link.
    pub return_to: Option<&'a str>,
}

/// The widget's stylesheet, cut out of `widget.js` so both faces of the product share one source.
pub fn widget_css() -> &'static str {
    const START: &str = "var CSS = `";
    WIDGET_JS
        .split_once(START)
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(css, _)| css)
        .unwrap_or("")
}

/// "12 Komentar" / "12 Comments"; "Belum ada komentar" for none.
pub fn count_text(lang: Lang, n: u64) -> String {
    messages::comment_count(lang, n)
}

fn date_text(lang: Lang, at: DateTime<Utc>) -> String {
    messages::date(lang, at.day(), at.month0(), at.year())
}

fn full_time(lang: Lang, at: DateTime<Utc>) -> String {
    messages::date_time(lang, &date_text(lang, at), at.hour(), at.minute())
}

/// Relative time as the widget shows it (`Intl.RelativeTimeFormat` wording): "5 menit yang lalu"
/// / "5 minutes ago"; the date itself after 30 days.
pub fn relative_time(lang: Lang, now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    if secs < 60 {
        return text(lang).just_now.to_string();
    }
    if secs >= 30 * 86_400 {
        return date_text(lang, at);
    }
    let unit = TimeUnit::ALL
        .into_iter()
        .find(|u| secs >= u.seconds())
        .unwrap_or(TimeUnit::Minute);
    messages::time_ago(lang, secs / unit.seconds(), unit)
}

/// Percent-encodes a query value or path segment (everything but RFC 3986 unreserved bytes).
fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn is_http_url(u: &str) -> bool {
    let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A link target we are willing to print as an href: an http(s) URL or a same-site path.
fn is_safe_return(u: &str) -> bool {
    is_http_url(u)
        || (u.starts_with('/')
            && !u.starts_with("//")
            && !u.contains('\\')
            && !u.chars().any(|c| c.is_whitespace() || c.is_control()))
}

/// Which form field an error key belongs to (API names and form names both accepted).
fn field_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "author_name" | "author" => "author",
        "author_email" | "email" => "email",
        "author_url" | "url" => "url",
        "body" | "comment" => "comment",
        "captcha" | "captcha_answer" | "captcha_token" => "captcha",
        _ => return None,
    })
}

struct Html(String);

impl Html {
    fn raw(&mut self, s: &str) -> &mut Self {
        self.0.push_str(s);
        self
    }
    fn text(&mut self, s: &str) -> &mut Self {
        encode_text_to_string(s, &mut self.0);
        self
    }
    fn attr(&mut self, s: &str) -> &mut Self {
        encode_double_quoted_attribute_to_string(s, &mut self.0);
        self
    }
}

/// Renders the complete no-JavaScript page: thread, paging link and the plain WordPress-style form.
pub fn render_embed(page: &EmbedPage<'_>) -> String {
    let t = text(page.lang);
    let lang = page.lang.tag();
    let mut h = Html(String::with_capacity(8 * 1024));
    let count = count_text(page.lang, page.total);
    let return_to = page.return_to.filter(|u| is_safe_return(u));
    let self_base = embed_path(page, return_to);

    h.raw("<!DOCTYPE html>\n<html lang=\"")
        .raw(lang)
        .raw("\">\n<head>\n<meta charset=\"utf-8\">\n")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
        .raw("<meta name=\"robots\" content=\"noindex\">\n")
        // Shown in an iframe under an article: links and the form leave the frame by default.
        .raw("<base target=\"_top\">\n<title>")
        .text(&count)
        .raw("</title>\n<style>body{margin:0;padding:1rem;font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:#1f1f1f;background:#fff}")
        .raw(widget_css())
        .raw("</style>\n</head>\n<body>\n<div class=\"saring\" id=\"saring-thread\" data-thread=\"")
        .attr(page.thread)
        .raw("\">\n");

    if let Some(back) = return_to {
        h.raw("<p><a class=\"saring-link\" href=\"")
            .attr(back)
            .raw("\">← ")
            .text(t.back)
            .raw("</a></p>\n");
    }
    if let Some(posted) = page.posted {
        let msg = if posted.pending {
            t.pending
        } else {
            t.published
        };
        h.raw("<p class=\"saring-status saring-ok\" role=\"status\">")
            .text(msg)
            .raw("</p>\n");
    }

    h.raw("<h2 class=\"saring-title\" id=\"saring-count\">")
        .text(&count)
        .raw("</h2>\n<ol class=\"saring-list\" aria-labelledby=\"saring-count\">\n");
    render_list(&mut h, page, t, &self_base, page.comments, 0);
    h.raw("</ol>\n");

    if let Some(next) = page.next_page {
        h.raw("<p><a class=\"saring-btn saring-more\" target=\"_self\" href=\"")
            .attr(&format!("{self_base}&page={next}"))
            .raw("\">")
            .text(t.more)
            .raw("</a></p>\n");
    }

    if page.closed {
        h.raw("<p class=\"saring-closed\">")
            .text(t.closed)
            .raw("</p>\n");
    } else {
        render_form(&mut h, page, t, &self_base, return_to);
    }
    h.raw("</div>\n</body>\n</html>\n");
    h.0
}

/// `/threads/{key}/embed?lang=..[&return=..]`, the page's own address for reply and paging links.
fn embed_path(page: &EmbedPage<'_>, return_to: Option<&str>) -> String {
    let mut p = format!(
        "/threads/{}/embed?lang={}",
        pct(page.thread),
        page.lang.tag()
    );
    if let Some(r) = return_to {
        p.push_str("&return=");
        p.push_str(&pct(r));
    }
    p
}

fn render_list(
    h: &mut Html,
    page: &EmbedPage<'_>,
    t: &Text,
    base: &str,
    comments: &[EmbedComment],
    depth: usize,
) {
    for c in comments {
        render_one(h, page, t, base, c);
        if c.replies.is_empty() {
            h.raw("</li>\n");
            continue;
        }
        h.raw("<ol class=\"saring-replies\">\n");
        if depth + 1 < MAX_DEPTH {
            render_list(h, page, t, base, &c.replies, depth + 1);
        } else {
            // Flatten what lies deeper, walking with an explicit stack instead of recursing.
            let mut stack: Vec<&EmbedComment> = c.replies.iter().rev().collect();
            while let Some(r) = stack.pop() {
                render_one(h, page, t, base, r);
                h.raw("</li>\n");
                stack.extend(r.replies.iter().rev());
            }
        }
        h.raw("</ol>\n</li>\n");
    }
}

/// Writes one comment's `<li>` and card, leaving the `<li>` open for its replies.
fn render_one(h: &mut Html, page: &EmbedPage<'_>, t: &Text, base: &str, c: &EmbedComment) {
    let class = if c.pending {
        "saring-comment saring-pending"
    } else {
        "saring-comment"
    };
    h.raw("<li class=\"")
        .raw(class)
        .raw("\" id=\"comment-")
        .attr(&c.id)
        .raw("\"><article class=\"saring-card\"><div class=\"saring-meta\">");
    match c.author_url.as_deref().filter(|u| is_http_url(u)) {
        Some(url) => {
            h.raw("<a class=\"saring-author\" href=\"")
                .attr(url)
                .raw("\" rel=\"nofollow ugc\">")
                .text(&c.author_name)
                .raw("</a>");
        }
        None => {
            h.raw("<span class=\"saring-author\">")
                .text(&c.author_name)
                .raw("</span>");
        }
    }
    h.raw(" <time class=\"saring-time\" datetime=\"")
        .attr(&c.created_at.to_rfc3339())
        .raw("\" title=\"")
        .attr(&full_time(page.lang, c.created_at))
        .raw("\">")
        .text(&relative_time(page.lang, page.now, c.created_at))
        .raw("</time></div>");
    if c.pending {
        h.raw("<span class=\"saring-badge\">")
            .text(t.pending)
            .raw("</span>");
    }
    // body_html is the server's own escaped rendering (only <p>, <br> and safe links).
    h.raw("<div class=\"saring-body\">")
        .raw(&c.body_html)
        .raw("</div>");
    if !c.pending && !page.closed {
        h.raw("<div class=\"saring-actions\"><a class=\"saring-link\" target=\"_self\" href=\"")
            .attr(&format!("{base}&replytocom={}#respond", pct(&c.id)))
            .raw("\" aria-label=\"")
            .attr(&format!("{}{}", t.reply_to, c.author_name))
            .raw("\">")
            .text(t.reply)
            .raw("</a></div>");
    }
    h.raw("</article>\n");
}

fn find_comment<'c>(comments: &'c [EmbedComment], id: &str) -> Option<&'c EmbedComment> {
    let mut stack: Vec<&EmbedComment> = comments.iter().collect();
    while let Some(c) = stack.pop() {
        if c.id == id {
            return Some(c);
        }
        stack.extend(c.replies.iter());
    }
    None
}

fn render_form(h: &mut Html, page: &EmbedPage<'_>, t: &Text, base: &str, return_to: Option<&str>) {
    let form = &page.form;
    let parent = form.parent.trim();
    let parent = if parent == "0" { "" } else { parent };

    let mut field_errors: Vec<(&str, &str)> = Vec::new();
    let mut other_errors: Vec<&str> = Vec::new();
    if let Some(err) = &page.error {
        for (key, msg) in &err.fields {
            match field_of(key) {
                Some(f) if !field_errors.iter().any(|(k, _)| *k == f) => {
                    field_errors.push((f, msg))
                }
                Some(_) => {}
                None => other_errors.push(msg),
            }
        }
    }
    let err_for = |f: &str| field_errors.iter().find(|(k, _)| *k == f).map(|(_, m)| *m);

    h.raw("<form class=\"saring-form\" id=\"respond\" method=\"post\" action=\"/comments?lang=")
        .raw(page.lang.tag())
        .raw("\" aria-labelledby=\"saring-form-title\">\n<h3 class=\"saring-title\" id=\"saring-form-title\">");
    match (!parent.is_empty())
        .then(|| find_comment(page.comments, parent))
        .flatten()
    {
        Some(c) => {
            h.text(t.reply_to).text(&c.author_name).raw("</h3>\n");
            h.raw("<p><a class=\"saring-link\" target=\"_self\" href=\"")
                .attr(&format!("{base}#respond"))
                .raw("\">")
                .text(t.cancel)
                .raw("</a></p>\n");
        }
        None => {
            h.text(t.title).raw("</h3>\n");
        }
    }

    if let Some(err) = &page.error {
        h.raw("<div class=\"saring-errors\" role=\"alert\"><p>")
            .text(err.message)
            .raw("</p>");
        if !other_errors.is_empty() {
            h.raw("<ul>");
            for msg in &other_errors {
                h.raw("<li>").text(msg).raw("</li>");
            }
            h.raw("</ul>");
        }
        h.raw("</div>\n");
    }

    h.raw("<p class=\"saring-note\">")
        .text(t.note)
        .raw(" ")
        .text(t.req_note)
        .raw(" <span class=\"saring-req\">*</span></p>\n");

    // Textarea first, then name, email and website: the order WordPress readers know.
    h.raw("<p class=\"saring-field\">");
    label(h, "saring-comment", t.comment, true);
    h.raw("<textarea class=\"saring-input\" id=\"saring-comment\" name=\"comment\" rows=\"6\" required");
    describe(h, "saring-comment", err_for("comment"));
    h.raw(">").text(form.comment).raw("</textarea>");
    error_span(h, "saring-comment", err_for("comment"));
    h.raw("</p>\n");

    let inputs = [
        ("author", t.name, "text", "name", form.author, true),
        ("email", t.email, "email", "email", form.email, true),
        ("url", t.url, "url", "url", form.url, false),
    ];
    for (name, text_label, kind, autocomplete, value, required) in inputs {
        let id = format!("saring-{name}");
        h.raw("<p class=\"saring-field\">");
        label(h, &id, text_label, required);
        h.raw("<input class=\"saring-input\" type=\"")
            .raw(kind)
            .raw("\" id=\"")
            .raw(&id)
            .raw("\" name=\"")
            .raw(name)
            .raw("\" autocomplete=\"")
            .raw(autocomplete)
            .raw("\" value=\"")
            .attr(value)
            .raw("\"");
        if required {
            h.raw(" required");
        }
        describe(h, &id, err_for(name));
        h.raw(">");
        error_span(h, &id, err_for(name));
        h.raw("</p>\n");
    }

    let cap_err = err_for("captcha");
    h.raw("<div class=\"saring-field saring-captcha\">");
    match &page.captcha {
        Some(c) => {
            let (before, after) = c.question.split_once("[ ]").unwrap_or((c.question, ""));
            h.raw("<label class=\"saring-label\" for=\"saring-captcha\">")
                .text(t.captcha)
                .raw("<span class=\"saring-req\" aria-hidden=\"true\"> *</span><span class=\"saring-sr\"> ")
                .text(c.prompt)
                .raw("</span></label><div class=\"saring-qline\"><span class=\"saring-qpart\" aria-hidden=\"true\">")
                .text(before)
                .raw("</span><input class=\"saring-input\" type=\"text\" id=\"saring-captcha\" name=\"captcha_answer\" inputmode=\"numeric\" autocomplete=\"off\" maxlength=\"8\" required");
            describe(h, "saring-captcha", cap_err);
            h.raw("><span class=\"saring-qpart\" aria-hidden=\"true\">")
                .text(after)
                .raw("</span></div><input type=\"hidden\" name=\"captcha_token\" value=\"")
                .attr(c.token)
                .raw("\">");
        }
        None => {
            h.raw("<p class=\"saring-ferr\">")
                .text(t.no_captcha)
                .raw("</p>");
        }
    }
    error_span(h, "saring-captcha", cap_err);
    h.raw("</div>\n");

    h.raw("<div class=\"saring-hp\" aria-hidden=\"true\"><label for=\"saring-hp\">")
        .text(t.hp)
        .raw("</label><input type=\"text\" id=\"saring-hp\" name=\"honeypot\" tabindex=\"-1\" autocomplete=\"off\" value=\"\"></div>\n");
    h.raw("<input type=\"hidden\" name=\"comment_post_ID\" value=\"")
        .attr(page.thread)
        .raw("\">\n<input type=\"hidden\" name=\"comment_parent\" value=\"")
        .attr(if parent.is_empty() { "0" } else { parent })
        .raw("\">\n");
    if let Some(r) = return_to {
        h.raw("<input type=\"hidden\" name=\"redirect_to\" value=\"")
            .attr(r)
            .raw("\">\n");
    }
    h.raw("<p><button type=\"submit\" class=\"saring-btn\">")
        .text(t.submit)
        .raw("</button></p>\n</form>\n");
}

fn label(h: &mut Html, id: &str, text: &str, required: bool) {
    h.raw("<label for=\"").raw(id).raw("\">").text(text);
    if required {
        h.raw("<span class=\"saring-req\" aria-hidden=\"true\"> *</span>");
    }
    h.raw("</label>");
}

fn describe(h: &mut Html, id: &str, err: Option<&str>) {
    h.raw(" aria-describedby=\"").raw(id).raw("-err\"");
    if err.is_some() {
        h.raw(" aria-invalid=\"true\"");
    }
}

fn error_span(h: &mut Html, id: &str, err: Option<&str>) {
    h.raw("<span class=\"saring-ferr\" id=\"")
        .raw(id)
        .raw("-err\">")
        .text(err.unwrap_or(""))
        .raw("</span>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::messages::{EMBED_EN as EN, EMBED_ID as ID};
    use chrono::TimeZone;

    const HOSTILE: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>";

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, h, m, 0)
            .single()
            .expect("valid date")
    }

    fn comment(id: &str, name: &str, replies: Vec<EmbedComment>) -> EmbedComment {
        EmbedComment {
            id: id.to_string(),
            author_name: name.to_string(),
            author_url: None,
            body_html: "<p>Setuju, jalan itu memang rusak.</p>".to_string(),
            created_at: at(9, 0),
            pending: false,
            replies,
        }
    }

    fn page<'a>(comments: &'a [EmbedComment]) -> EmbedPage<'a> {
        EmbedPage {
            thread: "demo-artikel",
            lang: Lang::Id,
            now: at(10, 0),
            comments,
            total: comments.len() as u64,
            next_page: None,
            closed: false,
            captcha: Some(EmbedCaptcha {
                token: "tok.en",
                question: "[ ] − 3 = 3",
                prompt: "Berapakah angka yang hilang? kotak kosong dikurangi 3 sama dengan 3",
            }),
            form: FormValues::default(),
            error: None,
            posted: None,
            return_to: Some("https://berita.example/artikel"),
        }
    }

    #[test]
    fn hostile_values_are_escaped_everywhere() {
        let mut c = comment("c1", HOSTILE, vec![]);
        c.author_url = Some(format!("https://x.example/\"onmouseover=\"{HOSTILE}"));
        let comments = [c];
        let mut p = page(&comments);
        p.thread = HOSTILE;
        p.return_to = Some("/a\"><script>x()</script>");
        p.form = FormValues {
            author: HOSTILE,
            email: HOSTILE,
            url: HOSTILE,
            comment: "</textarea><script>alert(1)</script>",
            parent: HOSTILE,
        };
        p.captcha = Some(EmbedCaptcha {
            token: HOSTILE,
            question: HOSTILE,
            prompt: HOSTILE,
        });
        p.error = Some(EmbedError {
            message: HOSTILE,
            fields: vec![("author_name", HOSTILE), ("mystery", HOSTILE)],
        });
        let html = render_embed(&p);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("\"onmouseover"), "{html}");
        assert!(!html.contains("</textarea><script"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        // The only textarea closing tag is the form's own.
        assert_eq!(html.matches("</textarea>").count(), 1);
    }

    #[test]
    fn body_html_is_kept_and_author_links_are_nofollow_ugc() {
        let mut c = comment("c1", "Wayan", vec![]);
        c.author_url = Some("https://wayan.example".into());
        let mut d = comment("c2", "Dodi", vec![]);
        d.author_url = Some("javascript:alert(1)".into());
        let comments = [c, d];
        let html = render_embed(&page(&comments));
        assert!(html.contains("<p>Setuju, jalan itu memang rusak.</p>"));
        assert!(html.contains(
            "<a class=\"saring-author\" href=\"https://wayan.example\" rel=\"nofollow ugc\">Wayan</a>"
        ));
        assert!(!html.contains("javascript:"));
        assert!(html.contains("<span class=\"saring-author\">Dodi</span>"));
    }

    #[test]
    fn errors_are_shown_per_field_and_values_kept() {
        let comments = [];
        let mut p = page(&comments);
        p.form = FormValues {
            author: "Siti Rahma",
            email: "siti@contoh.id",
            url: "https://siti.example",
            comment: "Semoga cepat diperbaiki & aman.",
            parent: "",
        };
        p.error = Some(EmbedError {
            message: "Periksa kembali ruas yang ditandai.",
            fields: vec![
                ("author_email", "Alamat email tidak valid."),
                ("captcha", "Jawaban salah."),
                ("parent_id", "Komentar yang dibalas tidak ada."),
            ],
        });
        let html = render_embed(&p);
        assert!(html.contains("role=\"alert\"><p>Periksa kembali ruas yang ditandai.</p>"));
        assert!(html.contains("<li>Komentar yang dibalas tidak ada.</li>"));
        assert!(html.contains(
            "<span class=\"saring-ferr\" id=\"saring-email-err\">Alamat email tidak valid.</span>"
        ));
        assert!(html.contains(
            "<span class=\"saring-ferr\" id=\"saring-captcha-err\">Jawaban salah.</span>"
        ));
        assert!(html.contains(
            "id=\"saring-email\" name=\"email\" autocomplete=\"email\" value=\"siti@contoh.id\" required aria-describedby=\"saring-email-err\" aria-invalid=\"true\">"
        ));
        // Fields without an error are not marked invalid.
        assert!(
            html.contains("value=\"Siti Rahma\" required aria-describedby=\"saring-author-err\">")
        );
        assert!(html.contains(">Semoga cepat diperbaiki &amp; aman.</textarea>"));
        assert!(html.contains("value=\"https://siti.example\""));
        // A fresh challenge, blank answer.
        assert!(html.contains("name=\"captcha_token\" value=\"tok.en\""));
        assert!(html.contains("<span class=\"saring-qpart\" aria-hidden=\"true\"> − 3 = 3</span>"));
    }

    #[test]
    fn form_carries_wordpress_fields_and_return_address() {
        let comments = [comment("c1", "Wayan", vec![comment("c2", "Dodi", vec![])])];
        let mut p = page(&comments);
        p.form.parent = "c1";
        let html = render_embed(&p);
        for needle in [
            "method=\"post\" action=\"/comments?lang=id\"",
            "name=\"comment_post_ID\" value=\"demo-artikel\"",
            "name=\"comment_parent\" value=\"c1\"",
            "name=\"redirect_to\" value=\"https://berita.example/artikel\"",
            "name=\"honeypot\"",
            "name=\"captcha_answer\"",
            "Balas ke Wayan</h3>",
            "Batalkan balasan",
            "Alamat email Anda tidak akan dipublikasikan. Ruas yang wajib ditandai <span class=\"saring-req\">*</span>",
            "<h2 class=\"saring-title\" id=\"saring-count\">1 Komentar</h2>",
            "<ol class=\"saring-replies\">",
            "href=\"/threads/demo-artikel/embed?lang=id&amp;return=https%3A%2F%2Fberita.example%2Fartikel&amp;replytocom=c2#respond\"",
        ] {
            assert!(html.contains(needle), "missing {needle}\n{html}");
        }
    }

    #[test]
    fn closed_thread_has_no_form_and_english_works() {
        let comments = [comment("c1", "Wayan", vec![])];
        let mut p = page(&comments);
        p.closed = true;
        p.lang = Lang::En;
        p.total = 12;
        p.posted = Some(PostedNotice { pending: true });
        let html = render_embed(&p);
        assert!(!html.contains("<form"));
        assert!(html.contains("Comments are closed."));
        assert!(html.contains("12 Comments"));
        assert!(html.contains("Your comment is awaiting moderation."));
        assert!(html.contains("1 hour ago"));
        assert!(html.contains("<html lang=\"en\">"));
    }

    #[test]
    fn relative_times_read_like_the_widget() {
        let now = at(12, 0);
        assert_eq!(
            relative_time(Lang::Id, now, at(11, 59)),
            "1 menit yang lalu"
        );
        assert_eq!(relative_time(Lang::Id, now, at(12, 0)), "baru saja");
        assert_eq!(relative_time(Lang::Id, now, at(9, 30)), "2 jam yang lalu");
        assert_eq!(relative_time(Lang::En, now, at(11, 55)), "5 minutes ago");
        let old = Utc
            .with_ymd_and_hms(2026, 8, 17, 8, 0, 0)
            .single()
            .expect("date");
        assert_eq!(relative_time(Lang::Id, now, old), "17 Agustus 2026");
        assert_eq!(relative_time(Lang::En, now, old), "August 17, 2026");
        assert_eq!(count_text(Lang::Id, 12), "12 Komentar");
        assert_eq!(count_text(Lang::En, 0), "No comments yet");
    }

    #[test]
    fn deep_threads_are_flattened_not_recursed_without_bound() {
        let mut c = comment("leaf", "Ujung", vec![]);
        for i in 0..200 {
            c = comment(&format!("c{i}"), "Lapis", vec![c]);
        }
        let comments = [c];
        let html = render_embed(&page(&comments));
        assert!(html.contains("id=\"comment-leaf\""));
        assert_eq!(
            html.matches("<ol class=\"saring-replies\">").count(),
            MAX_DEPTH
        );
        assert_eq!(
            html.matches("<li ").count(),
            html.matches("</li>").count(),
            "balanced list items"
        );
        assert_eq!(
            html.matches("<li ").count(),
            201,
            "every comment shown once"
        );
    }

    #[test]
    fn thread_json_deserializes_into_embed_types() {
        let json = r#"{"thread":"demo-artikel","total":2,"closed":false,"page":1,"next":null,
            "comments":[{"id":"a","parent_id":null,"author_name":"Wayan","author_url":"https://w.example",
            "body_html":"<p>Hai</p>","created_at":"2026-11-28T09:00:00Z",
            "replies":[{"id":"b","parent_id":"a","author_name":"Dodi","author_url":null,
            "body_html":"<p>Ya</p>","created_at":"2026-11-28T09:30:00Z","replies":[]}]}]}"#;
        let t: EmbedThread = serde_json::from_str(json).expect("thread json");
        assert_eq!(t.total, 2);
        assert_eq!(t.comments[0].replies[0].author_name, "Dodi");
    }

    #[test]
    fn widget_shares_css_and_words_with_this_page() {
        let css = widget_css();
        assert!(css.contains(".saring-form{"), "css cut from widget.js");
        assert!(!css.contains('`'));
        for t in [&ID, &EN] {
            for word in [
                t.title,
                t.cancel,
                t.note,
                t.req_note,
                t.comment,
                t.name,
                t.url,
                t.captcha,
                t.hp,
                t.submit,
                t.pending,
                t.published,
                t.none,
                t.more,
                t.closed,
                t.just_now,
            ] {
                assert!(
                    WIDGET_JS.contains(&format!("\"{word}\"")),
                    "widget.js lacks {word}"
                );
            }
            assert!(WIDGET_JS.contains(&format!("\"{}\" + name", t.reply_to)));
        }
    }

    #[test]
    fn widget_is_at_most_15_kib_gzipped() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(WIDGET_JS.as_bytes())
            .expect("gzip into memory");
        let size = gz.finish().expect("gzip into memory").len();
        assert!(size <= 15 * 1024, "widget.js is {size} bytes gzipped");
    }
}
