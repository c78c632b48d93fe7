//! The audit page of the console: who decided what and when, with filters, the figures of
//! each moderator and those of each rule (hits, and the share moderators overturned).

use maud::{Markup, html};

use super::pages::{Chrome, layout};
use crate::http::messages::console_words;
use crate::http::moderation::AuditQuery;
use crate::service::audit::{AuditLine, ModeratorFigures, RuleFigures};

/// The audit page.
pub fn audit(
    chrome: &Chrome<'_>,
    q: &AuditQuery,
    lines: &[AuditLine],
    figures: &[(String, ModeratorFigures)],
    rules: &[RuleFigures],
    next: Option<&str>,
) -> Markup {
    let lang = chrome.lang;
    let words = console_words(lang);
    let (common, w) = (&words.common, &words.audit);
    let title = w.title;
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    layout(
        lang,
        title,
        Some(chrome),
        html! {
            nav.queues {
                a href={ "/admin?lang=" (lang.tag()) } { (common.to_queues) }
                a href={ "/admin/bans?lang=" (lang.tag()) } { (common.bans) }
                a href={ "/admin/audit?lang=" (lang.tag()) } aria-current="page" { (title) }
                a href={ "/admin/waves?lang=" (lang.tag()) } data-key="w" { (common.waves) }
            }
            form.filters method="get" action="/admin/audit" role="search" {
                input type="hidden" name="lang" value=(lang.tag());
                label { (w.moderator) " " input type="text" name="moderator" maxlength="254" value=(value(&q.moderator)); }
                label { (w.comment) " " input type="text" name="comment" maxlength="36" value=(value(&q.comment)); }
                label { (w.author) " " input type="text" name="author" maxlength="254" value=(value(&q.author)); }
                label { (w.since) " " input type="text" name="since" placeholder="2026-12-01T00:00:00Z" value=(value(&q.since)); }
                label { (w.until) " " input type="text" name="until" placeholder="2026-12-02T00:00:00Z" value=(value(&q.until)); }
                button type="submit" { (w.filter) }
            }
            table.audit {
                thead { tr {
                    th { (w.when) } th { (w.by) }
                    th { (w.event) } th { (w.what) }
                    th { (w.before_after) } th { (w.reason) }
                } }
                tbody {
                    @for l in lines {
                        tr {
                            td { time datetime=(l.entry.at.to_rfc3339()) { (l.entry.at.format("%Y-%m-%d %H:%M:%S UTC")) } }
                            td { (l.entry.by) }
                            td { code { (l.entry.event) } }
                            td {
                                @if let Some(c) = l.entry.comment {
                                    a href={ "/admin/comments/" (c) "?lang=" (lang.tag()) } { (c.to_string()[..8]) "…" }
                                    @if let Some(a) = &l.author { " · " (a) }
                                }
                                @if let Some(t) = &l.entry.thread { code { (t) } }
                                @if let Some(d) = &l.entry.detail { " " (d) }
                            }
                            td { @if let (Some(b), Some(a)) = (l.before, l.after) { (b) " → " (a) } }
                            td { (l.entry.reason) }
                        }
                    }
                }
            }
            @if let Some(n) = next {
                nav.paging { a rel="next" href=(n) { (w.older) } }
            }
            h2 { (w.per_moderator) }
            table.figures {
                thead { tr {
                    th { (w.moderator) } th { (w.decisions) }
                    th { (w.reversed) }
                    th { (w.median) }
                } }
                tbody {
                    @for (name, f) in figures {
                        tr {
                            td { (name) } td { (f.decisions) } td { (f.reversed_by_colleagues) }
                            td { @if let Some(s) = f.median_seconds_to_decision { (s) " s" } }
                        }
                    }
                }
            }
            h2 { (w.per_rule) }
            p.summary { (w.rules_summary) }
            table.figures.rules {
                thead { tr {
                    th { (w.rule) } th { (w.hits) }
                    th { (w.overturned) }
                    th { (w.share) }
                } }
                tbody {
                    @for r in rules {
                        tr {
                            td { code { (r.rule) } } td { (r.hits) } td { (r.overturned) }
                            td { (format!("{:.0} %", 100.0 * r.overturned as f64 / r.hits.max(1) as f64)) }
                        }
                    }
                }
            }
        },
    )
}
