//! The console's HTML, in maud: every interpolated value is escaped unless wrapped in
//! `PreEscaped`, which is used only for `projections::render` output (escaped when rendered).
//! Every word a page shows comes from the catalogue ([`crate::http::messages::console`]),
//! picked once per page.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::highlight;
use crate::domain::{CommentStatus, ModeratorAction};
use crate::http::messages::{ConsoleWords, console_words};
use crate::i18n::Lang;
use crate::projections::search::{AuthorRecord, ConsoleQueue, QueueStats};
use crate::service::ModeratorView;

/// What every page of a logged-in moderator shows around its content.
pub struct Chrome<'a> {
    /// Page language.
    pub lang: Lang,
    /// The moderator.
    pub name: &'a str,
    /// The session's CSRF token, for every form.
    pub csrf: &'a str,
    /// The current path and query without `lang`, for the language switch.
    pub here: String,
    /// Whether the session holds a decision to undo.
    pub can_undo: bool,
}

/// A comment card's data.
pub struct Card {
    /// The comment as moderators see it (original text, verdict, history).
    pub view: ModeratorView,
    /// Whether it sits in the reported queue.
    pub reported: bool,
    /// The author's record on this site.
    pub author: AuthorRecord,
    /// The parent comment for a reply: author name and safe body HTML.
    pub parent: Option<(String, String)>,
    /// Link to the article, when the site configured a pattern.
    pub article: Option<String>,
    /// A colleague's decision that came first, if this card shows one.
    pub conflict: Option<Conflict>,
    /// Whether every new comment of the card's thread is held.
    pub premoderated: bool,
}

/// Who decided first, and what.
pub struct Conflict {
    /// The colleague's name (or `system`).
    pub by: String,
    /// The event type of their decision.
    pub event: String,
}

/// The queue page's data.
pub struct QueuePage<'a> {
    /// The queue shown.
    pub queue: ConsoleQueue,
    /// Every queue's size and oldest item.
    pub stats: Vec<(ConsoleQueue, QueueStats)>,
    /// Current filter values, in form order.
    pub filters: &'a Filters,
    /// The cards of this page.
    pub cards: Vec<Card>,
    /// Items matching the filter.
    pub matching: usize,
    /// The next page's URL.
    pub next: Option<String>,
    /// A note to show on top (after an undo, a bulk action, ...).
    pub notice: Option<String>,
    /// Now, for ages.
    pub now: DateTime<Utc>,
    /// This page's URL, where forms come back to.
    pub return_to: String,
}

/// The filter form's values as typed.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    /// Text search.
    pub q: String,
    /// Thread key.
    pub thread: String,
    /// Author email.
    pub email: String,
    /// Address or address group.
    pub address: String,
    /// Author website domain.
    pub domain: String,
    /// `newest` or anything else (oldest).
    pub newest: bool,
}

/// The keyboard letter of a queue after `g`.
pub fn queue_key(q: ConsoleQueue) -> char {
    match q {
        ConsoleQueue::Pending => 'p',
        ConsoleQueue::Reported => 'r',
        ConsoleQueue::Spam => 's',
        ConsoleQueue::Rejected => 'd',
        ConsoleQueue::Published => 'a',
    }
}

/// The name an action has in forms and the API.
pub fn action_name(a: ModeratorAction) -> &'static str {
    match a {
        ModeratorAction::Approve => "approve",
        ModeratorAction::Reject => "reject",
        ModeratorAction::Spam => "spam",
        ModeratorAction::NotSpam => "not_spam",
        ModeratorAction::Delete => "delete",
        ModeratorAction::Restore => "restore",
        ModeratorAction::Requeue => "requeue",
    }
}

fn action_key(a: ModeratorAction) -> &'static str {
    match a {
        ModeratorAction::Approve => "a",
        ModeratorAction::Reject => "r",
        ModeratorAction::Spam => "s",
        ModeratorAction::NotSpam => "n",
        ModeratorAction::Delete => "d",
        ModeratorAction::Restore | ModeratorAction::Requeue => "",
    }
}

/// The actions that apply to a comment now, as the domain allows them.
pub fn legal_actions(status: CommentStatus, reported: bool) -> Vec<ModeratorAction> {
    use CommentStatus as S;
    use ModeratorAction as A;
    match status {
        S::Pending => vec![A::Approve, A::Reject, A::Spam, A::Delete],
        S::Published if reported => vec![A::Approve, A::Reject, A::Spam, A::Delete],
        S::Published => vec![A::Reject, A::Spam, A::Delete],
        S::Spam => vec![A::NotSpam, A::Approve, A::Reject, A::Delete],
        S::Rejected => vec![A::Approve, A::Spam, A::Delete],
        S::Deleted => vec![A::Restore],
    }
}

/// `moderator:budi` → `budi`.
pub fn actor_name(label: &str) -> &str {
    label.strip_prefix("moderator:").unwrap_or(label)
}

/// A short age: `5 mnt`, `3 j`, `2 h` (Indonesian) or `5 min`, `3 h`, `2 d`.
pub fn age(w: &ConsoleWords, since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - since).num_seconds().max(0);
    let w = &w.common;
    match secs {
        s if s < 60 => w.age_now.to_string(),
        s if s < 3600 => format!("{} {}", s / 60, w.age_minutes),
        s if s < 86_400 => format!("{} {}", s / 3600, w.age_hours),
        s => format!("{} {}", s / 86_400, w.age_days),
    }
}

pub(super) fn layout(lang: Lang, title: &str, chrome: Option<&Chrome<'_>>, body: Markup) -> Markup {
    let w = &console_words(lang).common;
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · Saring" }
                link rel="stylesheet" href="/admin/console.css";
                @if chrome.is_some() {
                    script src="/admin/console.js" defer {}
                }
            }
            body data-lang=(lang.tag()) data-csrf=[chrome.map(|c| c.csrf)] {
                header.top {
                    span.brand { "Saring" }
                    @if let Some(c) = chrome {
                        span.who { (w.moderator) strong { (c.name) } }
                        nav.lang {
                            @let sep = if c.here.contains('?') { '&' } else { '?' };
                            a href={ (c.here) (sep) "lang=id" } hreflang="id" { "ID" }
                            " · "
                            a href={ (c.here) (sep) "lang=en" } hreflang="en" { "EN" }
                        }
                        @if c.can_undo {
                            form.inline method="post" action={ "/admin/undo?lang=" (lang.tag()) } {
                                input type="hidden" name="csrf" value=(c.csrf);
                                button type="submit" id="undo" { (w.undo) " (u)" }
                            }
                        }
                        form.inline method="post" action={ "/admin/logout?lang=" (lang.tag()) } {
                            input type="hidden" name="csrf" value=(c.csrf);
                            button type="submit" { (w.logout) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The login form.
pub fn login(lang: Lang, error: Option<&str>, name: &str, no_accounts: bool) -> Markup {
    let w = &console_words(lang).login;
    layout(
        lang,
        w.title,
        None,
        html! {
            section.login {
                h1 { (w.heading) }
                @if no_accounts {
                    p.notice role="status" {
                        (w.no_accounts)
                    }
                }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form method="post" action={ "/admin/login?lang=" (lang.tag()) } {
                    label for="name" { (w.name) }
                    input #name type="text" name="name" value=(name) autocomplete="username" required maxlength="64" autofocus;
                    label for="password" { (w.password) }
                    input #password type="password" name="password" autocomplete="current-password" required maxlength="1024";
                    button type="submit" { (w.title) }
                }
                p.lang {
                    a href="/admin/login?lang=id" hreflang="id" { "Bahasa Indonesia" } " · "
                    a href="/admin/login?lang=en" hreflang="en" { "English" }
                }
            }
        },
    )
}

/// A plain message page (errors, refusals).
pub fn message(lang: Lang, title: &str, text: &str, chrome: Option<&Chrome<'_>>) -> Markup {
    layout(
        lang,
        title,
        chrome,
        html! {
            section.message {
                h1 { (title) }
                p { (text) }
                p { a href={ "/admin?lang=" (lang.tag()) } { (console_words(lang).common.back_to_queue) } }
            }
        },
    )
}

fn help(w: &ConsoleWords) -> Markup {
    let h = &w.help;
    let rows: [(&str, &str); 14] = [
        ("j / k", h.next_previous),
        ("a", h.approve),
        ("r", h.reject),
        ("s", h.spam),
        ("n", h.not_spam),
        ("d", h.delete),
        ("u", h.undo),
        ("x", h.select),
        ("A / R / S", h.bulk),
        ("/", h.search),
        ("g p, g r, g s, g d, g a", h.go_queues),
        ("g w", h.go_waves),
        ("?", h.help),
        ("Esc", h.close),
    ];
    html! {
        details #help.help {
            summary { (h.shortcuts) " (?)" }
            table {
                @for (key, words) in rows {
                    tr { th scope="row" { kbd { (key) } } td { (words) } }
                }
            }
        }
    }
}

fn filter_form(lang: Lang, queue: ConsoleQueue, f: &Filters) -> Markup {
    let w = &console_words(lang).queue;
    // The author filters fold away (open when one is set) so a phone shows cards sooner.
    let narrowed = [&f.thread, &f.email, &f.address, &f.domain]
        .iter()
        .any(|v| !v.is_empty());
    html! {
        form.filters method="get" action="/admin" role="search" {
            input type="hidden" name="queue" value=(queue.as_str());
            input type="hidden" name="lang" value=(lang.tag());
            label { span { (w.search_text) } input #search type="search" name="q" value=(f.q) maxlength="200"; }
            label { span { (w.order) }
                select name="order" {
                    option value="oldest" selected[!f.newest] { (w.oldest_first) }
                    option value="newest" selected[f.newest] { (w.newest_first) }
                }
            }
            button type="submit" { (w.apply) }
            details.more open[narrowed] {
                summary { (w.thread_and_author) }
                div.more-fields {
                    label { span { (w.thread) } input type="text" name="thread" value=(f.thread) maxlength="128"; }
                    label { span { (w.author_email) } input type="text" name="email" value=(f.email) maxlength="254"; }
                    label { span { (w.address) } input type="text" name="address" value=(f.address) maxlength="64"; }
                    label { span { (w.website_domain) } input type="text" name="domain" value=(f.domain) maxlength="253"; }
                }
            }
        }
    }
}

/// The body with every matched rule's span in `<mark>`, each piece escaped on its own.
fn highlighted_body(lang: Lang, view: &ModeratorView) -> Markup {
    let rules: Vec<(usize, (usize, usize))> = view
        .verdict
        .iter()
        .flat_map(|v| v.rules.iter().enumerate())
        .filter(|(_, r)| r.field == "body")
        .filter_map(|(i, r)| r.span.map(|s| (i, s)))
        .collect();
    let spans: Vec<(usize, usize)> = rules.iter().map(|(_, s)| *s).collect();
    let pieces = highlight::pieces(&view.body, &spans);
    let rule_ids = |idx: &[usize]| -> String {
        let verdict = view.verdict.as_ref();
        idx.iter()
            .filter_map(|i| verdict.and_then(|v| v.rules.get(rules[*i].0)))
            .map(|r| {
                format!(
                    "{}: {}",
                    r.id,
                    lang.pick(&r.description.id, &r.description.en)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    html! {
        div.body {
            @for p in &pieces {
                @if p.rules.is_empty() { (p.text) } @else { mark title=(rule_ids(&p.rules)) { (p.text) } }
            }
        }
    }
}

/// The card's "everything pending from this …" buttons: form field, value and label, for the
/// author's email, the address group, the website's domain (when there is one) and the same
/// text. The bulk route resolves each through [`crate::http::moderation::BulkSelector`].
fn everything_pending(
    w: &ConsoleWords,
    v: &ModeratorView,
    host: Option<&str>,
) -> Vec<(&'static str, String, &'static str)> {
    let w = &w.card;
    let mut out = vec![
        ("select_email", v.author_email.clone(), w.all_from_author),
        ("select_address", v.client_ip.clone(), w.from_address),
    ];
    if let Some(h) = host {
        out.push((
            "select_domain",
            h.trim_start_matches("www.").to_string(),
            w.from_domain,
        ));
    }
    out.push(("select_text", v.id.to_string(), w.same_text));
    out
}

/// One comment card, with its decision form.
pub fn card(lang: Lang, csrf: &str, c: &Card, return_to: &str, now: DateTime<Utc>) -> Markup {
    let words = console_words(lang);
    let (w, status) = (&words.card, &words.status);
    let v = &c.view;
    let host = v
        .author_url
        .as_deref()
        .and_then(crate::projections::search::url_host);
    let reports: Vec<&crate::service::HistoryEntry> = v
        .history
        .iter()
        .filter(|h| h.event == "CommentFlagged")
        .collect();
    html! {
        article.card id={ "c-" (v.id) } tabindex="-1" data-id=(v.id) data-version=(v.version) data-status=(v.status) {
            header {
                label.select {
                    input type="checkbox" name="item" value={ (v.id) ":" (v.version) } form="bulk";
                    span.visually-hidden { (w.select) }
                }
                strong.author { (v.author_name) }
                " "
                span.meta { (v.author_email) " · " (v.client_ip) @if let Some(h) = &host { " · " (h) } }
                " "
                a.ban href={ "/admin/bans?kind=email&value=" (urlencode(&v.author_email)) "&lang=" (lang.tag()) } { (w.ban) }
                span.status { (status.label(v.status)) }
            }
            @if let Some(conflict) = &c.conflict {
                p.conflict role="alert" {
                    strong { (actor_name(&conflict.by)) } " "
                    (w.decided_first)
                    (words.event.of(&conflict.event))
                    ". " (w.status_now) strong { (status.label(v.status)) } "."
                }
            }
            p.thread {
                (w.thread)
                @if let Some(link) = &c.article { a href=(link) rel="noopener noreferrer" target="_blank" { code { (v.thread) } } }
                @else { code { (v.thread) } }
                " · " time datetime=(v.created_at.to_rfc3339()) title=(v.created_at.to_rfc3339()) { (age(words, v.created_at, now)) }
            }
            @if let Some((name, body_html)) = &c.parent {
                blockquote.parent {
                    span { (w.replying_to) strong { (name) } }
                    (PreEscaped(body_html))
                }
            }
            (highlighted_body(lang, v))
            @if let Some(verdict) = &v.verdict {
                p.score {
                    (w.score) strong { (format!("{:.1}", verdict.score)) }
                    " · " (w.outcome) (format!("{:?}", verdict.outcome).to_lowercase())
                }
                @if !verdict.rules.is_empty() {
                    ul.rules {
                        @for r in &verdict.rules {
                            li {
                                code { (r.id) } " +" (format!("{:.1}", r.score)) " — "
                                (lang.pick(&r.description.id, &r.description.en))
                                @if let Some(m) = &r.matched { " " q { (m) } }
                                @if r.obfuscated { " " em { (w.disguised) } }
                            }
                        }
                    }
                }
            }
            p.history {
                (w.author_on_site)
                (c.author.approved) " " (w.approved) ", "
                (c.author.pending) " " (status.pending) ", "
                (c.author.spam) " " (status.spam) ", "
                (c.author.rejected) " " (status.rejected)
                @if let Some(first) = c.author.first_seen {
                    "; " (w.first_seen) time datetime=(first.to_rfc3339()) { (first.format("%Y-%m-%d")) }
                }
            }
            @if v.reports > 0 {
                div.reports {
                    (v.reports) @if v.reports_capped { "+" } " " (w.reader_reports)
                    ul { @for r in &reports { li { time datetime=(r.at.to_rfc3339()) { (age(words, r.at, now)) } @if let Some(reason) = &r.reason { " — " (reason) } } } }
                }
            }
            form.actions method="post" action={ "/admin/comments/" (v.id) "/decision?lang=" (lang.tag()) } {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="expected_version" value=(v.version);
                input type="hidden" name="return_to" value=(return_to);
                @for a in legal_actions(v.status, c.reported) {
                    button type="submit" name="action" value=(action_name(a)) data-action=(action_name(a)) class={ "act " (action_name(a)) } {
                        (words.action.label(a))
                        @if !action_key(a).is_empty() { " " kbd { (action_key(a)) } }
                    }
                }
            }
            div.more {
                @if v.status == CommentStatus::Pending {
                    @for (name, value, label) in everything_pending(words, v, host.as_deref()) {
                        form.inline.select-all method="post" action={ "/admin/bulk?lang=" (lang.tag()) } {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="return_to" value=(return_to);
                            input type="hidden" name=(name) value=(value);
                            button type="submit" name="action" value="spam" data-select=(name) { (label) }
                        }
                    }
                }
                form.inline method="post" action={ "/admin/premoderation?lang=" (lang.tag()) } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="return_to" value=(return_to);
                    input type="hidden" name="thread" value=(v.thread);
                    @if c.premoderated {
                        input type="hidden" name="on" value="0";
                        button type="submit" { (w.stop_holding) }
                    } @else {
                        input type="hidden" name="on" value="1";
                        button type="submit" { (w.hold_thread) }
                    }
                }
            }
        }
    }
}

/// The queue page: tabs with counts and ages, filters, cards, bulk form, paging.
pub fn queue(chrome: &Chrome<'_>, page: &QueuePage<'_>) -> Markup {
    let lang = chrome.lang;
    let words = console_words(lang);
    let (common, w) = (&words.common, &words.queue);
    let title = w.label(page.queue);
    layout(
        lang,
        title,
        Some(chrome),
        html! {
            nav.queues aria-label=(common.queues) {
                a href={ "/admin/bans?lang=" (lang.tag()) } { (common.bans) }
                a href={ "/admin/audit?lang=" (lang.tag()) } { (common.audit) }
                a href={ "/admin/waves?lang=" (lang.tag()) } data-key="w" { (common.waves) }
                @for (q, stats) in &page.stats {
                    a href={ "/admin?queue=" (q.as_str()) "&lang=" (lang.tag()) } data-key=(queue_key(*q))
                        aria-current=[(*q == page.queue).then_some("page")] {
                        (w.label(*q)) " "
                        span.count { (stats.count) }
                        @if let Some(oldest) = stats.oldest {
                            " " span.age title=(w.oldest_age) { (age(words, oldest, page.now)) }
                        }
                    }
                }
            }
            (filter_form(lang, page.queue, page.filters))
            (help(words))
            @if let Some(n) = &page.notice { p.notice role="status" { (n) } }
            p.summary {
                (page.matching) " " (w.comments)
            }
            form #bulk.bulk method="post" action={ "/admin/bulk?lang=" (lang.tag()) } {
                input type="hidden" name="csrf" value=(chrome.csrf);
                input type="hidden" name="return_to" value=(page.return_to);
                span { (w.selected) }
                button type="submit" name="action" value="approve" { (words.action.approve) " " kbd { "A" } }
                button type="submit" name="action" value="reject" { (words.action.reject) " " kbd { "R" } }
                button type="submit" name="action" value="spam" { (words.action.spam) " " kbd { "S" } }
            }
            section #cards.cards aria-live="polite" {
                @if page.cards.is_empty() {
                    p.empty { (w.empty) }
                }
                @for c in &page.cards { (card(lang, chrome.csrf, c, &page.return_to, page.now)) }
            }
            @if let Some(next) = &page.next {
                nav.paging { a rel="next" href=(next) { (w.next_page) } }
            }
        },
    )
}

/// One card alone on a page (a conflict without JavaScript, a direct link).
pub fn card_page(chrome: &Chrome<'_>, c: &Card, now: DateTime<Utc>) -> Markup {
    let lang = chrome.lang;
    let w = &console_words(lang).queue;
    layout(
        lang,
        w.comment,
        Some(chrome),
        html! {
            p { a href={ "/admin?lang=" (lang.tag()) } { (w.back) } }
            section #cards.cards { (card(lang, chrome.csrf, c, &format!("/admin/comments/{}?lang={}", c.view.id, lang.tag()), now)) }
        },
    )
}

/// The bulk result page without JavaScript: one line per comment.
pub fn bulk_result(chrome: &Chrome<'_>, lines: &[(String, String)], back: &str) -> Markup {
    let lang = chrome.lang;
    let words = console_words(lang);
    layout(
        lang,
        words.queue.bulk_results,
        Some(chrome),
        html! {
            h1 { (words.queue.bulk_results) }
            ul.bulk-results { @for (id, result) in lines { li { code { (id) } " — " (result) } } }
            p { a href=(back) { (words.common.back_to_queue) } }
        },
    )
}

/// A query-string value, percent-encoded.
pub(super) fn urlencode(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}
