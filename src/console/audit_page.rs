//! The audit page of the console: who decided what and when, with filters, the figures of
//! each moderator and those of each rule (hits, and the share moderators overturned).

use maud::{Markup, html};

use super::pages::{Chrome, layout};
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
    let title = lang.pick("Catatan audit", "Audit log");
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    layout(
        lang,
        title,
        Some(chrome),
        html! {
            nav.queues {
                a href={ "/admin?lang=" (lang.tag()) } { (lang.pick("← Antrean", "← Queues")) }
                a href={ "/admin/bans?lang=" (lang.tag()) } { (lang.pick("Larangan", "Bans")) }
                a href={ "/admin/audit?lang=" (lang.tag()) } aria-current="page" { (title) }
                a href={ "/admin/waves?lang=" (lang.tag()) } data-key="w" { (lang.pick("Gelombang", "Waves")) }
            }
            form.filters method="get" action="/admin/audit" role="search" {
                input type="hidden" name="lang" value=(lang.tag());
                label { (lang.pick("Moderator", "Moderator")) " " input type="text" name="moderator" maxlength="254" value=(value(&q.moderator)); }
                label { (lang.pick("Komentar (id)", "Comment (id)")) " " input type="text" name="comment" maxlength="36" value=(value(&q.comment)); }
                label { (lang.pick("Penulis (email)", "Author (email)")) " " input type="text" name="author" maxlength="254" value=(value(&q.author)); }
                label { (lang.pick("Sejak", "Since")) " " input type="text" name="since" placeholder="2026-12-01T00:00:00Z" value=(value(&q.since)); }
                label { (lang.pick("Sampai", "Until")) " " input type="text" name="until" placeholder="2026-12-02T00:00:00Z" value=(value(&q.until)); }
                button type="submit" { (lang.pick("Saring", "Filter")) }
            }
            table.audit {
                thead { tr {
                    th { (lang.pick("Waktu", "When")) } th { (lang.pick("Oleh", "By")) }
                    th { (lang.pick("Peristiwa", "Event")) } th { (lang.pick("Apa", "What")) }
                    th { (lang.pick("Sebelum → sesudah", "Before → after")) } th { (lang.pick("Alasan", "Reason")) }
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
                nav.paging { a rel="next" href=(n) { (lang.pick("Lebih lama →", "Older →")) } }
            }
            h2 { (lang.pick("Per moderator", "Per moderator")) }
            table.figures {
                thead { tr {
                    th { "Moderator" } th { (lang.pick("Keputusan", "Decisions")) }
                    th { (lang.pick("Diubah rekan", "Reversed by colleagues")) }
                    th { (lang.pick("Median tiba → diputuskan", "Median arrival → decision")) }
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
            h2 { (lang.pick("Per aturan", "Per rule")) }
            p.summary { (lang.pick(
                "Komentar yang dicocokkan tiap aturan dalam jendela audit, dan berapa yang kemudian diputuskan moderator berlawanan dengan aturan itu.",
                "Comments each rule matched in the audit window, and how many a moderator later decided against the rule.")) }
            table.figures.rules {
                thead { tr {
                    th { (lang.pick("Aturan", "Rule")) } th { (lang.pick("Cocok", "Hits")) }
                    th { (lang.pick("Dibatalkan moderator", "Overturned by moderators")) }
                    th { (lang.pick("Bagian", "Share")) }
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
