//! The moderation console's page words: every label, heading, button and notice of the
//! `/admin` pages, in Indonesian and English, one struct per page (and one for what every page
//! shares), picked once per page by language with [`console_words`].
//!
//! The pages (`console::pages` and its siblings, in maud) only refer to these fields, so a
//! translator reads this file and no markup. Each pair is written once, side by side, in a
//! `words!` table; the macro makes the struct, its two constants and the list the tests walk.
//! What the pages show that is not ours (a rule's description from the policy files, a
//! reader's text) is not here.

use crate::domain::{CommentStatus, ModeratorAction};
use crate::i18n::Lang;
use crate::projections::search::ConsoleQueue;
use crate::projections::waves::ShapeKind;

/// Declares a struct of page words from a table of `field: "Indonesian", "English";` lines,
/// with its two languages as constants and `all` for the tests. Each field's doc shows both
/// texts; a `///` line before a field says where it is shown when the words do not.
macro_rules! words {
    ($(#[doc = $sdoc:literal])* $name:ident {
        $( $(#[doc = $doc:literal])* $field:ident: $id:literal, $en:literal; )*
    }) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name {
            $(
                $(#[doc = $doc])*
                #[doc = concat!("Indonesian `` ", $id, " ``, English `` ", $en, " ``.")]
                pub $field: &'static str,
            )*
        }

        impl $name {
            /// The words in Indonesian.
            pub const ID: $name = $name { $($field: $id,)* };
            /// The words in English.
            pub const EN: $name = $name { $($field: $en,)* };

            /// Every word with its field's name, in the table's order (for the tests that
            /// each is translated and none is written twice).
            pub fn all(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($field), self.$field),)*]
            }
        }
    };
}

words! {
    /// What every logged-in page shows around its content, the links between pages, the
    /// short ages, and the plain message page.
    CommonWords {
        /// Before the moderator's name in the header.
        moderator: "Moderator: ", "Moderator: ";
        undo: "Urungkan", "Undo";
        logout: "Keluar", "Log out";
        /// The link from another page to the queues.
        to_queues: "← Antrean", "← Queues";
        /// The queue tabs' label for screen readers.
        queues: "Antrean", "Queues";
        bans: "Larangan", "Bans";
        audit: "Audit", "Audit";
        waves: "Gelombang", "Waves";
        back_to_queue: "Kembali ke antrean", "Back to the queue";
        /// The title of the page shown for a refused form.
        refused: "Tidak dapat dilakukan", "Could not be done";
        /// An age under a minute.
        age_now: "baru", "now";
        /// After a number of minutes.
        age_minutes: "mnt", "min";
        /// After a number of hours.
        age_hours: "j", "h";
        /// After a number of days.
        age_days: "h", "d";
    }
}

words! {
    /// The login page.
    LoginWords {
        /// The page's title and its button.
        title: "Masuk", "Log in";
        heading: "Masuk ke konsol moderasi", "Log in to the moderation console";
        no_accounts: "Belum ada akun moderator. Buat satu dengan `saring moderator add NAMA` lalu tambahkan barisnya ke saring.toml.",
            "No moderator account yet. Create one with `saring moderator add NAME` and add its lines to saring.toml.";
        name: "Nama", "Name";
        password: "Kata sandi", "Password";
        wrong: "Nama atau kata sandi salah.", "Wrong name or password.";
    }
}

words! {
    /// The queue page: its tabs, filters, bulk form, paging and notices, the one-card page
    /// and the bulk result page.
    QueueWords {
        pending: "Menunggu", "Pending";
        reported: "Dilaporkan", "Reported";
        spam: "Spam", "Spam";
        rejected: "Ditolak", "Rejected";
        published: "Terbit", "Published";
        /// The title of a tab's age.
        oldest_age: "umur yang terlama", "age of the oldest";
        /// After the number of comments matching the filter.
        comments: "komentar", "comments";
        /// Before the bulk buttons.
        selected: "Yang dipilih: ", "Selected: ";
        empty: "Antrean ini kosong.", "This queue is empty.";
        next_page: "Halaman berikutnya →", "Next page →";
        search_text: "Cari teks", "Search text";
        order: "Urutan", "Order";
        oldest_first: "Terlama dulu", "Oldest first";
        newest_first: "Terbaru dulu", "Newest first";
        apply: "Terapkan", "Apply";
        /// The folded author filters.
        thread_and_author: "Utas dan penulis", "Thread and author";
        thread: "Utas", "Thread";
        author_email: "Email penulis", "Author email";
        address: "Alamat / grup", "Address / group";
        website_domain: "Domain situs", "Website domain";
        undone: "Keputusan terakhir Anda diurungkan.", "Your last decision was undone.";
        nothing_to_undo: "Tidak ada keputusan untuk diurungkan.", "There is no decision to undo.";
        /// After an undo that would put a comment that was pending back in the queue.
        requeue_refused: "Komentar yang tadinya menunggu tidak bisa dikembalikan ke antrean; kartunya ada di bawah, pilih keputusan yang benar.",
            "A comment that was pending cannot go back to the queue; its card is below, choose the right decision.";
        /// The title of a card alone on its page.
        comment: "Komentar", "Comment";
        back: "← Kembali ke antrean", "← Back to the queue";
        /// The bulk result page's title and heading.
        bulk_results: "Hasil keputusan massal", "Bulk decision results";
        /// A bulk line that was applied.
        bulk_done: "selesai", "done";
        /// A bulk line someone decided first, before their name and what they did.
        bulk_decided_by: "sudah diputuskan oleh", "already decided by";
        bulk_not_found: "tidak ditemukan", "not found";
    }
}

words! {
    /// The keyboard help of the queue page; the keys themselves are in the markup.
    HelpWords {
        shortcuts: "Pintasan papan ketik", "Keyboard shortcuts";
        /// j / k
        next_previous: "komentar berikut / sebelumnya", "next / previous comment";
        approve: "setujui", "approve";
        reject: "tolak", "reject";
        spam: "spam", "spam";
        not_spam: "bukan spam", "not spam";
        delete: "hapus", "delete";
        undo: "urungkan keputusan terakhir Anda", "undo your last decision";
        /// x
        select: "pilih / batal pilih", "select / unselect";
        /// A / R / S
        bulk: "setujui / tolak / spam semua yang dipilih", "approve / reject / spam the selection";
        search: "cari", "search";
        /// g p, g r, g s, g d, g a
        go_queues: "ke antrean menunggu, dilaporkan, spam, ditolak, terbit",
            "go to pending, reported, spam, rejected, published";
        /// g w
        go_waves: "ke gelombang spam", "go to the spam waves";
        help: "bantuan ini", "this help";
        close: "tutup bantuan", "close the help";
    }
}

words! {
    /// A comment's status, as a card, a wave and its samples show it.
    StatusWords {
        pending: "menunggu", "pending";
        published: "terbit", "published";
        spam: "spam", "spam";
        rejected: "ditolak", "rejected";
        deleted: "dihapus", "deleted";
    }
}

words! {
    /// The decision buttons of a card and of the bulk form.
    ActionWords {
        approve: "Setujui", "Approve";
        reject: "Tolak", "Reject";
        spam: "Spam", "Spam";
        not_spam: "Bukan spam", "Not spam";
        delete: "Hapus", "Delete";
        restore: "Pulihkan", "Restore";
        requeue: "Kembalikan ke antrean", "Back to pending";
    }
}

words! {
    /// What a recorded decision did, after who made it ("sari approved it").
    EventWords {
        approved: "menyetujuinya", "approved it";
        rejected: "menolaknya", "rejected it";
        requeued: "mengembalikannya ke antrean", "put it back in the queue";
        spam: "menandainya spam", "marked it spam";
        not_spam: "menandainya bukan spam", "marked it not spam";
        deleted: "menghapusnya", "deleted it";
        restored: "memulihkannya", "restored it";
        reported: "(pembaca melaporkannya)", "(a reader reported it)";
        /// Any other event.
        changed: "mengubahnya", "changed it";
    }
}

words! {
    /// A comment card.
    CardWords {
        /// The checkbox's label for screen readers.
        select: "Pilih", "Select";
        /// The link to the bans page, prefilled with the author's email.
        ban: "Larang…", "Ban…";
        /// After the name of the colleague who decided first.
        decided_first: "memutuskan lebih dulu: ", "decided first: ";
        status_now: "Status sekarang: ", "Now: ";
        /// Before the thread's key.
        thread: "Utas ", "Thread ";
        /// Before the parent comment's author.
        replying_to: "Membalas ", "Replying to ";
        score: "Skor ", "Score ";
        outcome: "hasil filter: ", "filter outcome: ";
        /// After a rule's match that was written in disguise.
        disguised: "(disamarkan)", "(disguised)";
        author_on_site: "Penulis di situs ini: ", "Author on this site: ";
        /// After the number of the author's published comments.
        approved: "terbit", "approved";
        first_seen: "pertama terlihat ", "first seen ";
        /// After the number of reports.
        reader_reports: "laporan pembaca", "reader reports";
        all_from_author: "Semua yang menunggu dari penulis ini → spam", "All pending from this author → spam";
        from_address: "… dari alamat ini → spam", "… from this address → spam";
        from_domain: "… dari domain situs ini → spam", "… from this website domain → spam";
        same_text: "… dengan teks yang sama → spam", "… with this same text → spam";
        stop_holding: "Akhiri moderasi utas ini", "Stop holding this thread";
        hold_thread: "Tahan semua komentar baru utas ini", "Hold every new comment of this thread";
    }
}

words! {
    /// The bans page: the form, the search, the list and its notices.
    BanWords {
        kind: "Jenis", "Kind";
        value: "Nilai", "Value";
        reason_private: "Alasan (pribadi)", "Reason (private)";
        /// How long a new ban lasts.
        lasts: "Berlaku", "For";
        until_lifted: "sampai dicabut", "until lifted";
        one_day: "1 hari", "1 day";
        seven_days: "7 hari", "7 days";
        thirty_days: "30 hari", "30 days";
        spam_existing: "pindahkan komentarnya yang tampil dan menunggu ke spam sekarang",
            "move their visible and pending comments to spam now";
        /// The form's button.
        place: "Larang", "Ban";
        /// The search's label and button.
        search: "Cari", "Search";
        /// After the number of bans listed.
        count: "larangan", "bans";
        reason: "Alasan", "Reason";
        until: "Sampai", "Until";
        by: "Oleh", "By";
        /// Before the time a ban ended.
        ended: "berakhir ", "ended ";
        lift: "Cabut", "Lift";
        kind_email: "Email", "Email";
        kind_email_domain: "Domain email", "Email domain";
        kind_address: "Alamat IP (IPv6: /64)", "IP address (IPv6: /64)";
        kind_cidr: "Rentang CIDR", "CIDR range";
        kind_url_domain: "Domain situs web", "Website domain";
        kind_name: "Nama", "Name";
        placed: "Larangan dipasang.", "The ban is in place.";
        lifted: "Larangan dicabut.", "The ban was lifted.";
    }
}

words! {
    /// The audit page: its filters, the log and the figures per moderator and per rule.
    AuditWords {
        title: "Catatan audit", "Audit log";
        moderator: "Moderator", "Moderator";
        comment: "Komentar (id)", "Comment (id)";
        author: "Penulis (email)", "Author (email)";
        since: "Sejak", "Since";
        until: "Sampai", "Until";
        filter: "Saring", "Filter";
        when: "Waktu", "When";
        by: "Oleh", "By";
        event: "Peristiwa", "Event";
        what: "Apa", "What";
        before_after: "Sebelum → sesudah", "Before → after";
        reason: "Alasan", "Reason";
        older: "Lebih lama →", "Older →";
        per_moderator: "Per moderator", "Per moderator";
        decisions: "Keputusan", "Decisions";
        reversed: "Diubah rekan", "Reversed by colleagues";
        median: "Median tiba → diputuskan", "Median arrival → decision";
        per_rule: "Per aturan", "Per rule";
        rules_summary: "Komentar yang dicocokkan tiap aturan dalam jendela audit, dan berapa yang kemudian diputuskan moderator berlawanan dengan aturan itu.",
            "Comments each rule matched in the audit window, and how many a moderator later decided against the rule.";
        rule: "Aturan", "Rule";
        hits: "Cocok", "Hits";
        overturned: "Dibatalkan moderator", "Overturned by moderators";
        share: "Bagian", "Share";
    }
}

words! {
    /// The spam waves page.
    WaveWords {
        title: "Gelombang spam", "Spam waves";
        hold_on: "Komentar baru dari gelombang yang belum diputuskan ditahan.", "New comments of an undecided wave are held.";
        hold_off: "Komentar baru dari gelombang tidak ditahan otomatis ([waves] hold).", "New comments of a wave are not held automatically ([waves] hold).";
        none_yet: "Belum ada gelombang spam.", "No spam wave so far.";
        /// After a wave's number of comments.
        comments: "komentar", "comments";
        /// After a wave's number of threads.
        threads: "utas", "threads";
        open: "belum diputuskan", "not decided";
        decided: "sudah diputuskan", "decided";
        first: "Pertama: ", "First: ";
        last: "; terakhir: ", "; last: ";
        /// Before the wave's thread keys.
        in_threads: "Utas: ", "Threads: ";
        holding: "Komentar baru sebentuk gelombang ini ditahan (WAVE_HELD) sampai diputuskan.", "New comments of this shape are held (WAVE_HELD) until it is decided.";
        /// The link from a sample to its card.
        card: "kartu", "card";
        /// Before the name of who decided the wave.
        by: "Oleh ", "By ";
        all_spam: "Semua → spam", "All → spam";
        all_reject: "Semua → tolak", "All → reject";
        all_delete: "Semua → hapus", "All → delete";
        approve_pending: "Setujui yang menunggu", "Approve the pending";
        shape_text: "Teks hampir sama", "Near-identical text";
        shape_domain: "Domain tautan", "Link domain";
        shape_brand: "Merek", "Brand";
        approved: "disetujui", "approved";
        rejected: "ditolak", "rejected";
        marked_spam: "ditandai spam", "marked spam";
        marked_not_spam: "ditandai bukan spam", "marked not spam";
        deleted: "dihapus", "deleted";
        changed: "diubah", "changed";
        /// After a wave was found decided one by one.
        closed: "Gelombang ditutup: komentarnya sudah diputuskan satu per satu.", "The wave is closed: its comments were decided one by one already.";
        /// The reason recorded on each comment a wave decision applies to.
        reason: "gelombang spam", "spam wave";
    }
}

words! {
    /// The words `console.js` shows (its toasts); a test checks the script carries the same.
    ScriptWords {
        done: "Selesai", "Done";
        undo: "tekan u untuk mengurungkan", "press u to undo";
        none: "Tidak ada yang dipilih", "Nothing selected";
        fail: "Gagal", "Failed";
        stale: "sudah diputuskan rekan", "already decided by a colleague";
        gone: "Antrean ini kosong.", "This queue is empty.";
    }
}

/// Every word of the console in one language.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleWords {
    /// What every page shares.
    pub common: CommonWords,
    /// The login page.
    pub login: LoginWords,
    /// The queue page and its neighbours.
    pub queue: QueueWords,
    /// The keyboard help.
    pub help: HelpWords,
    /// Comment statuses.
    pub status: StatusWords,
    /// Decision buttons.
    pub action: ActionWords,
    /// What a recorded decision did.
    pub event: EventWords,
    /// A comment card.
    pub card: CardWords,
    /// The bans page.
    pub bans: BanWords,
    /// The audit page.
    pub audit: AuditWords,
    /// The spam waves page.
    pub waves: WaveWords,
    /// The script's toasts.
    pub script: ScriptWords,
}

macro_rules! console_words {
    ($lang:ident) => {
        ConsoleWords {
            common: CommonWords::$lang,
            login: LoginWords::$lang,
            queue: QueueWords::$lang,
            help: HelpWords::$lang,
            status: StatusWords::$lang,
            action: ActionWords::$lang,
            event: EventWords::$lang,
            card: CardWords::$lang,
            bans: BanWords::$lang,
            audit: AuditWords::$lang,
            waves: WaveWords::$lang,
            script: ScriptWords::$lang,
        }
    };
}

/// The console in Indonesian.
pub const CONSOLE_ID: ConsoleWords = console_words!(ID);
/// The console in English.
pub const CONSOLE_EN: ConsoleWords = console_words!(EN);

/// The console's words in `lang`.
pub fn console_words(lang: Lang) -> &'static ConsoleWords {
    match lang {
        Lang::Id => &CONSOLE_ID,
        Lang::En => &CONSOLE_EN,
    }
}

impl ConsoleWords {
    /// Every page's words, each page's with its name (for the tests).
    pub fn pages(&self) -> [(&'static str, Vec<(&'static str, &'static str)>); 12] {
        [
            ("common", self.common.all()),
            ("login", self.login.all()),
            ("queue", self.queue.all()),
            ("help", self.help.all()),
            ("status", self.status.all()),
            ("action", self.action.all()),
            ("event", self.event.all()),
            ("card", self.card.all()),
            ("bans", self.bans.all()),
            ("audit", self.audit.all()),
            ("waves", self.waves.all()),
            ("script", self.script.all()),
        ]
    }
}

impl QueueWords {
    /// A queue's tab name.
    pub fn label(&self, q: ConsoleQueue) -> &'static str {
        match q {
            ConsoleQueue::Pending => self.pending,
            ConsoleQueue::Reported => self.reported,
            ConsoleQueue::Spam => self.spam,
            ConsoleQueue::Rejected => self.rejected,
            ConsoleQueue::Published => self.published,
        }
    }
}

impl StatusWords {
    /// A status in words.
    pub fn label(&self, status: CommentStatus) -> &'static str {
        match status {
            CommentStatus::Pending => self.pending,
            CommentStatus::Published => self.published,
            CommentStatus::Spam => self.spam,
            CommentStatus::Rejected => self.rejected,
            CommentStatus::Deleted => self.deleted,
        }
    }
}

impl ActionWords {
    /// An action's button.
    pub fn label(&self, action: ModeratorAction) -> &'static str {
        match action {
            ModeratorAction::Approve => self.approve,
            ModeratorAction::Reject => self.reject,
            ModeratorAction::Spam => self.spam,
            ModeratorAction::NotSpam => self.not_spam,
            ModeratorAction::Delete => self.delete,
            ModeratorAction::Restore => self.restore,
            ModeratorAction::Requeue => self.requeue,
        }
    }
}

impl EventWords {
    /// What the event of this type did (its type as stored in the log).
    pub fn of(&self, event: &str) -> &'static str {
        match event {
            "CommentApproved" => self.approved,
            "CommentRejected" => self.rejected,
            "CommentRequeued" => self.requeued,
            "CommentMarkedSpam" => self.spam,
            "CommentMarkedNotSpam" => self.not_spam,
            "CommentDeleted" => self.deleted,
            "CommentRestored" => self.restored,
            "CommentFlagged" | "CommentReportedQueued" => self.reported,
            _ => self.changed,
        }
    }
}

impl BanWords {
    /// The kinds of ban by their API names, in the order the form offers them.
    pub const KINDS: [&'static str; 6] = [
        "email",
        "email_domain",
        "address",
        "cidr",
        "url_domain",
        "name",
    ];

    /// The label of a ban kind by its API name (`None` for a kind the console does not know).
    pub fn kind_label(&self, kind: &str) -> Option<&'static str> {
        Some(match kind {
            "email" => self.kind_email,
            "email_domain" => self.kind_email_domain,
            "address" => self.kind_address,
            "cidr" => self.kind_cidr,
            "url_domain" => self.kind_url_domain,
            "name" => self.kind_name,
            _ => return None,
        })
    }
}

impl WaveWords {
    /// What a wave's comments share.
    pub fn shape(&self, kind: ShapeKind) -> &'static str {
        match kind {
            ShapeKind::Text => self.shape_text,
            ShapeKind::Domain => self.shape_domain,
            ShapeKind::Brand => self.shape_brand,
        }
    }

    /// How a decided wave was decided.
    pub fn decided_as(&self, action: ModeratorAction) -> &'static str {
        match action {
            ModeratorAction::Approve => self.approved,
            ModeratorAction::Reject => self.rejected,
            ModeratorAction::Spam => self.marked_spam,
            ModeratorAction::NotSpam => self.marked_not_spam,
            ModeratorAction::Delete => self.deleted,
            ModeratorAction::Restore | ModeratorAction::Requeue => self.changed,
        }
    }
}

/// The waves page's rule: "A wave: 5 comments or more in 3 threads or more within 60 minutes,
/// with the same text, link domain or brand."
pub fn wave_rule(lang: Lang, comments: usize, threads: usize, minutes: i64) -> String {
    match lang {
        Lang::Id => format!(
            "Sebuah gelombang: {comments} komentar atau lebih di {threads} utas atau lebih dalam \
             {minutes} menit, dengan teks, domain tautan atau merek yang sama."
        ),
        Lang::En => format!(
            "A wave: {comments} comments or more in {threads} threads or more within {minutes} \
             minutes, with the same text, link domain or brand."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words that are the same in Indonesian and English.
    const SAME_IN_BOTH: &[&str] = &[
        "Moderator: ",
        "Moderator",
        "Per moderator",
        "Audit",
        "Spam",
        "spam",
        "Email",
    ];

    #[test]
    fn every_console_word_is_in_both_languages_translated_and_written_once_per_page() {
        let (id, en) = (CONSOLE_ID.pages(), CONSOLE_EN.pages());
        let mut total = 0;
        for ((page, id), (_, en)) in id.iter().zip(&en) {
            let mut pairs = std::collections::BTreeSet::new();
            for ((field, i), (_, e)) in id.iter().zip(en) {
                assert!(
                    !i.trim().is_empty() && !e.trim().is_empty(),
                    "{page}.{field}"
                );
                assert!(
                    i != e || SAME_IN_BOTH.contains(i),
                    "{page}.{field} is not translated: {i}"
                );
                assert!(
                    pairs.insert((i, e)),
                    "{page}.{field} says what another word of the page says: {i} / {e}"
                );
                total += 1;
            }
        }
        assert!(total > 150, "only {total} words");
    }

    #[test]
    fn the_enum_labels_name_every_value() {
        for w in [&CONSOLE_ID, &CONSOLE_EN] {
            for q in [
                ConsoleQueue::Pending,
                ConsoleQueue::Reported,
                ConsoleQueue::Spam,
                ConsoleQueue::Rejected,
                ConsoleQueue::Published,
            ] {
                assert!(!w.queue.label(q).is_empty());
            }
            for kind in BanWords::KINDS {
                assert!(w.bans.kind_label(kind).is_some(), "{kind}");
            }
            assert_eq!(w.bans.kind_label("other"), None);
            assert_eq!(w.event.of("SomethingNew"), w.event.changed);
        }
        assert_eq!(CONSOLE_EN.event.of("CommentApproved"), "approved it");
        assert_eq!(CONSOLE_ID.status.label(CommentStatus::Rejected), "ditolak");
        assert_eq!(
            CONSOLE_EN.waves.decided_as(ModeratorAction::Spam),
            "marked spam"
        );
    }

    #[test]
    fn the_wave_rule_carries_its_numbers_in_both_languages() {
        let id = wave_rule(Lang::Id, 5, 3, 60);
        let en = wave_rule(Lang::En, 5, 3, 60);
        assert!(id.contains("5 komentar") && id.contains("3 utas") && id.contains("60 menit"));
        assert!(en.contains("5 comments") && en.contains("3 threads") && en.contains("60 minutes"));
    }

    #[test]
    fn the_console_script_carries_the_catalogues_words() {
        let script = include_str!("../../console/assets/console.js");
        for words in [&CONSOLE_ID.script, &CONSOLE_EN.script] {
            for (field, text) in words.all() {
                assert!(
                    script.contains(&format!("{field}: '{text}'")),
                    "console.js lacks {field}: '{text}'"
                );
            }
        }
    }
}
