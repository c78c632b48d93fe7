//! The spam waves page of the console: one card per wave (what its comments share, how many,
//! in which threads, since when, a few of its bodies) with the buttons that decide the whole
//! wave at once (a plain form post to the bulk route with the wave's id and the CSRF token).

use chrono::{DateTime, Utc};
use maud::{Markup, PreEscaped, html};

use super::pages::{Chrome, age, layout};
use crate::http::messages::{console, console_words};
use crate::service::waves::WaveSummary;

/// What the page shows.
pub struct WavesPage<'a> {
    /// The waves, newest first.
    pub waves: &'a [WaveSummary],
    /// Whether hold mode is on.
    pub hold: bool,
    /// The rules: comments, threads, seconds.
    pub rules: crate::projections::waves::WaveRules,
    /// A note on top.
    pub notice: Option<String>,
    /// Now, for ages.
    pub now: DateTime<Utc>,
}

/// The waves page.
pub fn waves(chrome: &Chrome<'_>, page: &WavesPage<'_>) -> Markup {
    let lang = chrome.lang;
    let words = console_words(lang);
    let (common, t) = (&words.common, &words.waves);
    let title = t.title;
    let return_to = format!("/admin/waves?lang={}", lang.tag());
    layout(
        lang,
        title,
        Some(chrome),
        html! {
            nav.queues {
                a href={ "/admin?lang=" (lang.tag()) } data-key="p" { (common.to_queues) }
                a href={ "/admin/waves?lang=" (lang.tag()) } data-key="w" aria-current="page" { (title) }
                a href={ "/admin/bans?lang=" (lang.tag()) } { (common.bans) }
                a href={ "/admin/audit?lang=" (lang.tag()) } { (common.audit) }
            }
            h1 { (title) }
            p.summary {
                (console::wave_rule(lang, page.rules.min_comments, page.rules.min_threads, page.rules.window_seconds / 60))
                " "
                @if page.hold { (t.hold_on) } @else { (t.hold_off) }
            }
            @if let Some(n) = &page.notice { p.notice role="status" { (n) } }
            @if page.waves.is_empty() {
                p.empty { (t.none_yet) }
            }
            section.waves {
                @for w in page.waves {
                    article.wave-card id={ "wave-" (w.id) } data-wave=(w.id) {
                        header {
                            strong { (w.comments) " " (t.comments) }
                            " · " (w.thread_count) " " (t.threads)
                            @if w.open {
                                span.status.open { (t.open) }
                            } @else {
                                span.status { (t.decided) }
                            }
                        }
                        ul.shapes {
                            @for s in &w.shapes {
                                li { (t.shape(s.kind)) ": " code { (s.value) } }
                            }
                        }
                        p.meta {
                            (t.first) time datetime=(w.first_seen.to_rfc3339()) title=(w.first_seen.format("%Y-%m-%d %H:%M:%S UTC")) { (age(words, w.first_seen, page.now)) }
                            (t.last) time datetime=(w.last_seen.to_rfc3339()) title=(w.last_seen.format("%Y-%m-%d %H:%M:%S UTC")) { (age(words, w.last_seen, page.now)) }
                            ". "
                            @for (status, n) in &w.statuses {
                                span.count { (n) " " (words.status.label(*status)) } " "
                            }
                        }
                        p.meta {
                            (t.in_threads)
                            @for (i, t) in w.threads.iter().enumerate() {
                                @if i > 0 { ", " }
                                code { (t) }
                            }
                            @if w.thread_count > w.threads.len() { " …" }
                        }
                        @if w.holding {
                            p.holding { (t.holding) }
                        }
                        @for s in &w.samples {
                            blockquote.sample {
                                div.body { (PreEscaped(&s.body_html)) }
                                footer.meta {
                                    (s.author_name) " · " code { (s.thread) } " · " (words.status.label(s.status)) " · "
                                    a href={ "/admin/comments/" (s.id) "?lang=" (lang.tag()) } { (t.card) }
                                }
                            }
                        }
                        @if let Some(d) = &w.decided {
                            p.decided {
                                (t.by) strong { (d.by) } " " time datetime=(d.at.to_rfc3339()) { (d.at.format("%Y-%m-%d %H:%M UTC")) } ": "
                                (t.decided_as(d.action))
                            }
                        } @else {
                            form.actions method="post" action={ "/admin/bulk?lang=" (lang.tag()) } {
                                input type="hidden" name="csrf" value=(chrome.csrf);
                                input type="hidden" name="return_to" value=(return_to);
                                input type="hidden" name="select_wave" value=(w.id);
                                button.act.spam type="submit" name="action" value="spam" { (t.all_spam) }
                                button.act.reject type="submit" name="action" value="reject" { (t.all_reject) }
                                button.act.delete type="submit" name="action" value="delete" { (t.all_delete) }
                                button.act.approve type="submit" name="action" value="approve" { (t.approve_pending) }
                            }
                        }
                    }
                }
            }
        },
    )
}
