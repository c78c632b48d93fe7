//! The bans page of the console: the form to place a ban (prefilled from a card's "Ban…"
//! link), the list of bans with a search, and a lift button on each.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::pages::{Chrome, layout};
use crate::http::messages::console::BanWords;
use crate::http::messages::console_words;
use crate::service::bans::BanView;

/// What the page shows.
pub struct BansPage<'a> {
    /// The bans to list (already filtered by the search).
    pub bans: &'a [BanView],
    /// The search words.
    pub q: &'a str,
    /// The form's kind and value (from a card's link or a refused form).
    pub kind: &'a str,
    /// See `kind`.
    pub value: &'a str,
    /// A notice to show (placed, lifted, or why not).
    pub notice: Option<String>,
    /// Now, for "active".
    pub now: DateTime<Utc>,
}

/// The bans page.
pub fn bans(chrome: &Chrome<'_>, page: &BansPage<'_>) -> Markup {
    let lang = chrome.lang;
    let words = console_words(lang);
    let (common, w) = (&words.common, &words.bans);
    let title = common.bans;
    layout(
        lang,
        title,
        Some(chrome),
        html! {
            nav.queues {
                a href={ "/admin?lang=" (lang.tag()) } { (common.to_queues) }
                a href={ "/admin/bans?lang=" (lang.tag()) } aria-current="page" { (title) }
                a href={ "/admin/waves?lang=" (lang.tag()) } data-key="w" { (common.waves) }
            }
            @if let Some(n) = &page.notice { p.notice role="status" { (n) } }
            form #ban-form.filters method="post" action={ "/admin/bans?lang=" (lang.tag()) } {
                input type="hidden" name="csrf" value=(chrome.csrf);
                label { (w.kind) " "
                    select name="kind" {
                        @for k in BanWords::KINDS {
                            option value=(k) selected[k == page.kind] { (w.kind_label(k).unwrap_or(k)) }
                        }
                    }
                }
                label { (w.value) " " input type="text" name="value" required maxlength="254" value=(page.value); }
                label { (w.reason_private) " " input type="text" name="reason" maxlength="500"; }
                label { (w.lasts) " "
                    select name="expires_in_hours" {
                        option value="" { (w.until_lifted) }
                        option value="24" { (w.one_day) }
                        option value="168" { (w.seven_days) }
                        option value="720" { (w.thirty_days) }
                    }
                }
                label { input type="checkbox" name="spam_existing" value="1"; " " (w.spam_existing) }
                button type="submit" { (w.place) }
            }
            form.filters method="get" action="/admin/bans" role="search" {
                input type="hidden" name="lang" value=(lang.tag());
                label { (w.search) " " input type="search" name="q" value=(page.q) maxlength="254"; }
                button type="submit" { (w.search) }
            }
            p.summary { (page.bans.len()) " " (w.count) }
            table.bans {
                thead { tr {
                    th { (w.kind) } th { (w.value) }
                    th { (w.reason) } th { (w.until) }
                    th { (w.by) } th {}
                } }
                tbody {
                    @for b in page.bans {
                        tr.ban data-id=(b.id) data-active=(b.active) {
                            td { (w.kind_label(b.kind).unwrap_or(b.kind)) }
                            td { code { (b.value) } }
                            td { (b.reason) }
                            td {
                                @match b.expires_at {
                                    Some(e) if e <= page.now => { (w.ended) (e.format("%Y-%m-%d %H:%M UTC")) }
                                    Some(e) => { (e.format("%Y-%m-%d %H:%M UTC")) }
                                    None => { (w.until_lifted) }
                                }
                            }
                            td { (b.by) " · " (b.at.format("%Y-%m-%d")) }
                            td {
                                form.inline method="post" action={ "/admin/bans/" (b.id) "/lift?lang=" (lang.tag()) } {
                                    input type="hidden" name="csrf" value=(chrome.csrf);
                                    button type="submit" { (w.lift) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
