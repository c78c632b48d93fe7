//! The spam waves page of the console: one card per wave (what its comments share, how many,
//! in which threads, since when, a few of its bodies) with the buttons that decide the whole
//! wave at once (a plain form post to the bulk route with the wave's id and the CSRF token).

use chrono::{DateTime, Utc};
use maud::{Markup, PreEscaped, html};

use super::pages::{Chrome, age, layout};
use crate::domain::ModeratorAction;
use crate::i18n::Lang;
use crate::projections::waves::ShapeKind;
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

fn shape_label(lang: Lang, kind: ShapeKind) -> &'static str {
    match kind {
        ShapeKind::Text => lang.pick("Teks hampir sama", "Near-identical text"),
        ShapeKind::Domain => lang.pick("Domain tautan", "Link domain"),
        ShapeKind::Brand => lang.pick("Merek", "Brand"),
    }
}

fn decided_words(lang: Lang, action: ModeratorAction) -> &'static str {
    match action {
        ModeratorAction::Approve => lang.pick("disetujui", "approved"),
        ModeratorAction::Reject => lang.pick("ditolak", "rejected"),
        ModeratorAction::Spam => lang.pick("ditandai spam", "marked spam"),
        ModeratorAction::NotSpam => lang.pick("ditandai bukan spam", "marked not spam"),
        ModeratorAction::Delete => lang.pick("dihapus", "deleted"),
        ModeratorAction::Restore | ModeratorAction::Requeue => lang.pick("diubah", "changed"),
    }
}

/// The waves page.
pub fn waves(chrome: &Chrome<'_>, page: &WavesPage<'_>) -> Markup {
    let lang = chrome.lang;
    let title = lang.pick("Gelombang spam", "Spam waves");
    let return_to = format!("/admin/waves?lang={}", lang.tag());
    layout(
        lang,
        title,
        Some(chrome),
        html! {
            nav.queues {
                a href={ "/admin?lang=" (lang.tag()) } data-key="p" { (lang.pick("← Antrean", "← Queues")) }
                a href={ "/admin/waves?lang=" (lang.tag()) } data-key="w" aria-current="page" { (title) }
                a href={ "/admin/bans?lang=" (lang.tag()) } { (lang.pick("Larangan", "Bans")) }
                a href={ "/admin/audit?lang=" (lang.tag()) } { (lang.pick("Audit", "Audit")) }
            }
            h1 { (title) }
            p.summary {
                (lang.pick("Sebuah gelombang: ", "A wave: "))
                (page.rules.min_comments) (lang.pick(" komentar atau lebih di ", " comments or more in "))
                (page.rules.min_threads) (lang.pick(" utas atau lebih dalam ", " threads or more within "))
                (page.rules.window_seconds / 60) (lang.pick(" menit, dengan teks, domain tautan atau merek yang sama. ", " minutes, with the same text, link domain or brand. "))
                @if page.hold {
                    (lang.pick("Komentar baru dari gelombang yang belum diputuskan ditahan.", "New comments of an undecided wave are held."))
                } @else {
                    (lang.pick("Komentar baru dari gelombang tidak ditahan otomatis ([waves] hold).", "New comments of a wave are not held automatically ([waves] hold)."))
                }
            }
            @if let Some(n) = &page.notice { p.notice role="status" { (n) } }
            @if page.waves.is_empty() {
                p.empty { (lang.pick("Belum ada gelombang spam.", "No spam wave so far.")) }
            }
            section.waves {
                @for w in page.waves {
                    article.wave-card id={ "wave-" (w.id) } data-wave=(w.id) {
                        header {
                            strong { (w.comments) " " (lang.pick("komentar", "comments")) }
                            " · " (w.thread_count) " " (lang.pick("utas", "threads"))
                            @if w.open {
                                span.status.open { (lang.pick("belum diputuskan", "not decided")) }
                            } @else {
                                span.status { (lang.pick("sudah diputuskan", "decided")) }
                            }
                        }
                        ul.shapes {
                            @for s in &w.shapes {
                                li { (shape_label(lang, s.kind)) ": " code { (s.value) } }
                            }
                        }
                        p.meta {
                            (lang.pick("Pertama: ", "First: ")) time datetime=(w.first_seen.to_rfc3339()) title=(w.first_seen.format("%Y-%m-%d %H:%M:%S UTC")) { (age(lang, w.first_seen, page.now)) }
                            (lang.pick("; terakhir: ", "; last: ")) time datetime=(w.last_seen.to_rfc3339()) title=(w.last_seen.format("%Y-%m-%d %H:%M:%S UTC")) { (age(lang, w.last_seen, page.now)) }
                            ". "
                            @for (status, n) in &w.statuses {
                                span.count { (n) " " (super::pages::status_label(lang, *status)) } " "
                            }
                        }
                        p.meta {
                            (lang.pick("Utas: ", "Threads: "))
                            @for (i, t) in w.threads.iter().enumerate() {
                                @if i > 0 { ", " }
                                code { (t) }
                            }
                            @if w.thread_count > w.threads.len() { " …" }
                        }
                        @if w.holding {
                            p.holding { (lang.pick("Komentar baru sebentuk gelombang ini ditahan (WAVE_HELD) sampai diputuskan.", "New comments of this shape are held (WAVE_HELD) until it is decided.")) }
                        }
                        @for s in &w.samples {
                            blockquote.sample {
                                div.body { (PreEscaped(&s.body_html)) }
                                footer.meta {
                                    (s.author_name) " · " code { (s.thread) } " · " (super::pages::status_label(lang, s.status)) " · "
                                    a href={ "/admin/comments/" (s.id) "?lang=" (lang.tag()) } { (lang.pick("kartu", "card")) }
                                }
                            }
                        }
                        @if let Some(d) = &w.decided {
                            p.decided {
                                (lang.pick("Oleh ", "By ")) strong { (d.by) } " " time datetime=(d.at.to_rfc3339()) { (d.at.format("%Y-%m-%d %H:%M UTC")) } ": "
                                (decided_words(lang, d.action))
                            }
                        } @else {
                            form.actions method="post" action={ "/admin/bulk?lang=" (lang.tag()) } {
                                input type="hidden" name="csrf" value=(chrome.csrf);
                                input type="hidden" name="return_to" value=(return_to);
                                input type="hidden" name="select_wave" value=(w.id);
                                button.act.spam type="submit" name="action" value="spam" { (lang.pick("Semua → spam", "All → spam")) }
                                button.act.reject type="submit" name="action" value="reject" { (lang.pick("Semua → tolak", "All → reject")) }
                                button.act.delete type="submit" name="action" value="delete" { (lang.pick("Semua → hapus", "All → delete")) }
                                button.act.approve type="submit" name="action" value="approve" { (lang.pick("Setujui yang menunggu", "Approve the pending")) }
                            }
                        }
                    }
                }
            }
        },
    )
}
