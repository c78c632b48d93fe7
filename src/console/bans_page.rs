//! The bans page of the console: the form to place a ban (prefilled from a card's "Ban…"
//! link), the list of bans with a search, and a lift button on each.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::pages::{Chrome, layout};
use crate::service::bans::BanView;

/// Kinds of ban in the form's order, with their labels.
const KINDS: [(&str, &str, &str); 6] = [
    ("email", "Email", "Email"),
    ("email_domain", "Domain email", "Email domain"),
    ("address", "Alamat IP (IPv6: /64)", "IP address (IPv6: /64)"),
    ("cidr", "Rentang CIDR", "CIDR range"),
    ("url_domain", "Domain situs web", "Website domain"),
    ("name", "Nama", "Name"),
];

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
    let title = lang.pick("Larangan", "Bans");
    layout(
        lang,
        title,
        Some(chrome),
        html! {
            nav.queues {
                a href={ "/admin?lang=" (lang.tag()) } { (lang.pick("← Antrean", "← Queues")) }
                a href={ "/admin/bans?lang=" (lang.tag()) } aria-current="page" { (title) }
                a href={ "/admin/waves?lang=" (lang.tag()) } data-key="w" { (lang.pick("Gelombang", "Waves")) }
            }
            @if let Some(n) = &page.notice { p.notice role="status" { (n) } }
            form #ban-form.filters method="post" action={ "/admin/bans?lang=" (lang.tag()) } {
                input type="hidden" name="csrf" value=(chrome.csrf);
                label { (lang.pick("Jenis", "Kind")) " "
                    select name="kind" {
                        @for (k, id, en) in KINDS {
                            option value=(k) selected[k == page.kind] { (lang.pick(id, en)) }
                        }
                    }
                }
                label { (lang.pick("Nilai", "Value")) " " input type="text" name="value" required maxlength="254" value=(page.value); }
                label { (lang.pick("Alasan (pribadi)", "Reason (private)")) " " input type="text" name="reason" maxlength="500"; }
                label { (lang.pick("Berlaku", "For")) " "
                    select name="expires_in_hours" {
                        option value="" { (lang.pick("sampai dicabut", "until lifted")) }
                        option value="24" { (lang.pick("1 hari", "1 day")) }
                        option value="168" { (lang.pick("7 hari", "7 days")) }
                        option value="720" { (lang.pick("30 hari", "30 days")) }
                    }
                }
                label { input type="checkbox" name="spam_existing" value="1"; " " (lang.pick("pindahkan komentarnya yang tampil dan menunggu ke spam sekarang", "move their visible and pending comments to spam now")) }
                button type="submit" { (lang.pick("Larang", "Ban")) }
            }
            form.filters method="get" action="/admin/bans" role="search" {
                input type="hidden" name="lang" value=(lang.tag());
                label { (lang.pick("Cari", "Search")) " " input type="search" name="q" value=(page.q) maxlength="254"; }
                button type="submit" { (lang.pick("Cari", "Search")) }
            }
            p.summary { (page.bans.len()) " " (lang.pick("larangan", "bans")) }
            table.bans {
                thead { tr {
                    th { (lang.pick("Jenis", "Kind")) } th { (lang.pick("Nilai", "Value")) }
                    th { (lang.pick("Alasan", "Reason")) } th { (lang.pick("Sampai", "Until")) }
                    th { (lang.pick("Oleh", "By")) } th {}
                } }
                tbody {
                    @for b in page.bans {
                        tr.ban data-id=(b.id) data-active=(b.active) {
                            td { (KINDS.iter().find(|k| k.0 == b.kind).map_or(b.kind, |k| lang.pick(k.1, k.2))) }
                            td { code { (b.value) } }
                            td { (b.reason) }
                            td {
                                @match b.expires_at {
                                    Some(e) if e <= page.now => { (lang.pick("berakhir ", "ended ")) (e.format("%Y-%m-%d %H:%M UTC")) }
                                    Some(e) => { (e.format("%Y-%m-%d %H:%M UTC")) }
                                    None => { (lang.pick("sampai dicabut", "until lifted")) }
                                }
                            }
                            td { (b.by) " · " (b.at.format("%Y-%m-%d")) }
                            td {
                                form.inline method="post" action={ "/admin/bans/" (b.id) "/lift?lang=" (lang.tag()) } {
                                    input type="hidden" name="csrf" value=(chrome.csrf);
                                    button type="submit" { (lang.pick("Cabut", "Lift")) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
