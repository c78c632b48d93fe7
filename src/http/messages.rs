//! Every Indonesian and English sentence the HTTP API and the embed page answer with, in one
//! place, so a translator reads one file and no call site glues languages together.
//!
//! The input rules' field messages are here too, not beside the rules in `domain::input`: the
//! domain says *why* a field is refused (a [`FieldProblem`] and the field's limit) and stays
//! free of words and of any dependency on `http/`, which is the only layer that speaks to
//! people. The embed page's words ([`EmbedWords`]) are shared with `widget.js` (a test in
//! `embed_html` checks the script carries the same); the moderation console's page words are
//! in [`console`], one struct per page.

use std::collections::BTreeMap;

use super::error::ErrorKind;
use crate::captcha::SumWords;
use crate::domain::ban::BanInputError;
use crate::domain::input::{FieldErrors, FieldProblem, limit_of};
use crate::domain::{CommentStatus, ModeratorAction};
use crate::i18n::Lang;

pub mod console;

pub use console::{ConsoleWords, console_words};

/// The message shown to the reader when `field` has `problem`, in their language.
pub fn field_problem(problem: FieldProblem, field: &str, lang: Lang) -> String {
    let limit = limit_of(field);
    match (problem, lang) {
        (FieldProblem::Required, Lang::Id) => "Wajib diisi.".into(),
        (FieldProblem::Required, Lang::En) => "This field is required.".into(),
        (FieldProblem::TooLong, Lang::Id) => {
            format!("Terlalu panjang: paling banyak {limit} karakter.")
        }
        (FieldProblem::TooLong, Lang::En) => format!("Too long: at most {limit} characters."),
        (FieldProblem::ControlCharacters, Lang::Id) => {
            "Berisi karakter kontrol yang tidak diizinkan.".into()
        }
        (FieldProblem::ControlCharacters, Lang::En) => {
            "Contains control characters, which are not allowed.".into()
        }
        (FieldProblem::InvalidEmail, Lang::Id) => {
            "Alamat email tidak valid (contoh: nama@contoh.id).".into()
        }
        (FieldProblem::InvalidEmail, Lang::En) => {
            "Not a valid email address (e.g. name@example.com).".into()
        }
        (FieldProblem::InvalidUrl, Lang::Id) => {
            "Situs web harus berupa alamat http:// atau https://.".into()
        }
        (FieldProblem::InvalidUrl, Lang::En) => {
            "The website must be an http:// or https:// address.".into()
        }
        (FieldProblem::InvalidThreadKey, Lang::Id) => {
            "Kunci utas hanya boleh berisi huruf, angka dan -_.: (paling banyak 128).".into()
        }
        (FieldProblem::InvalidThreadKey, Lang::En) => {
            "A thread key may only hold letters, digits and -_.: (at most 128).".into()
        }
        (FieldProblem::InvalidId, Lang::Id) => "Bukan id komentar yang valid.".into(),
        (FieldProblem::InvalidId, Lang::En) => "Not a valid comment id.".into(),
        (FieldProblem::BidiControls, Lang::Id) => {
            "Berisi karakter pengatur arah teks (U+202A–202E, U+2066–2069) yang tidak diizinkan."
                .into()
        }
        (FieldProblem::BidiControls, Lang::En) => {
            "Contains text-direction controls (U+202A–202E, U+2066–2069), which are not allowed."
                .into()
        }
    }
}

/// The messages per field of a refused submission, in the reader's language.
pub fn field_errors(errors: &FieldErrors, lang: Lang) -> BTreeMap<String, String> {
    errors
        .iter()
        .map(|(f, p)| (f.to_string(), field_problem(p, f, lang)))
        .collect()
}

/// The sentence an error of `kind` carries by default.
pub fn error(kind: ErrorKind, lang: Lang) -> &'static str {
    use ErrorKind as K;
    let (id, en) = match kind {
        K::InvalidBody | K::InvalidBodyShape => (
            "Isi permintaan tidak dapat dibaca.",
            "The request body could not be read.",
        ),
        K::InvalidThread => ("Kunci utas tidak valid.", "Invalid thread key."),
        K::InvalidQuery => ("Parameter tidak valid.", "Invalid parameter."),
        K::InvalidRequest => ("Permintaan tidak valid.", "Invalid request."),
        K::Unauthorized => (
            "Token moderator tidak ada atau tidak valid.",
            "Missing or invalid moderator token.",
        ),
        K::CaptchaWrong => (
            "Jawaban hitungan salah. Silakan jawab soal yang baru.",
            "Wrong answer to the sum. Please answer the new one.",
        ),
        K::CaptchaExpired => (
            "Soal hitungan sudah kedaluwarsa. Silakan jawab soal yang baru.",
            "The sum has expired. Please answer the new one.",
        ),
        K::CaptchaInvalid => (
            "Soal hitungan tidak valid. Silakan jawab soal yang baru.",
            "The captcha is not valid. Please answer the new one.",
        ),
        K::CaptchaPowMissing => (
            "Pemeriksaan otomatis di peramban belum selesai. Tunggu sebentar lalu kirim lagi.",
            "The browser's automatic check has not finished. Wait a moment and send again.",
        ),
        K::CaptchaPowWrong => (
            "Pemeriksaan otomatis di peramban tidak cocok. Kirim lagi dengan soal yang baru.",
            "The browser's automatic check does not match. Send again with the new question.",
        ),
        K::CaptchaUnanswered => (
            "Jawab soal hitungan, atau pilih \u{201c}lewati soal\u{201d}.",
            "Answer the sum, or choose \u{201c}skip the sum\u{201d}.",
        ),
        K::CsrfInvalid => (
            "Token keamanan formulir tidak cocok. Muat ulang halaman lalu coba lagi.",
            "The form's security token does not match. Reload the page and try again.",
        ),
        K::NotFound => ("Tidak ditemukan.", "Not found."),
        K::MethodNotAllowed => (
            "Metode HTTP ini tidak diizinkan di sini.",
            "This HTTP method is not allowed here.",
        ),
        K::CaptchaUsed => (
            "Komentar ini sudah terkirim (soal hitungan hanya berlaku sekali).",
            "This comment was already sent (each sum works only once).",
        ),
        K::BanExists => (
            "Larangan yang sama sudah berlaku.",
            "The same ban is in force already.",
        ),
        K::TooManyBans => (
            "Terlalu banyak larangan berlaku; cabut yang tidak perlu dulu.",
            "Too many bans are in force; lift those no longer needed first.",
        ),
        K::ThreadClosed => (
            "Komentar untuk artikel ini sudah ditutup.",
            "Comments on this article are closed.",
        ),
        K::StaleVersion => (
            "Komentar ini sudah diputuskan orang lain. Lihat keadaannya sekarang.",
            "Someone else decided on this comment first. See its current state.",
        ),
        K::IllegalTransition => (
            "Tindakan ini tidak berlaku untuk status komentar sekarang.",
            "This action does not apply to the comment's current status.",
        ),
        K::CommentDeleted => (
            "Komentar ini sudah dihapus; pulihkan dulu.",
            "This comment is deleted; restore it first.",
        ),
        K::BodyPurged => (
            "Isi komentar ini sudah dihapus oleh aturan retensi, jadi tidak dapat ditampilkan lagi.",
            "This comment's text was purged by the retention rule, so it cannot be shown again.",
        ),
        K::ThreadState => (
            "Tindakan ini tidak berlaku untuk keadaan utas sekarang.",
            "This action does not apply to the thread's current state.",
        ),
        K::AlreadyReported => (
            "Anda sudah melaporkan komentar ini.",
            "You already reported this comment.",
        ),
        K::NotReportable => (
            "Hanya komentar yang tampil yang dapat dilaporkan.",
            "Only visible comments can be reported.",
        ),
        K::StreamFull => (
            "Komentar ini sudah mencapai batas catatan yang disimpan; tidak dapat diubah lagi. Hubungi pengelola situs.",
            "This comment has reached the most changes that can be stored for it; it cannot be changed any more. Contact the site's administrators.",
        ),
        K::PayloadTooLarge => (
            "Permintaan terlalu besar (paling banyak 64 KiB).",
            "The request is too large (at most 64 KiB).",
        ),
        K::UnsupportedMediaType => (
            "Jenis isi tidak didukung: kirim application/json atau application/x-www-form-urlencoded.",
            "Unsupported content type: send application/json or application/x-www-form-urlencoded.",
        ),
        K::InvalidInput => (
            "Periksa kembali isian yang ditandai.",
            "Please check the marked fields.",
        ),
        K::CommentRejected => (
            "Komentar Anda ditolak oleh filter. Moderator dapat meninjaunya.",
            "Your comment was refused by the filter. Moderators can review it.",
        ),
        K::PolicyInvalid => (
            "Kebijakan baru tidak valid; kebijakan lama tetap berlaku.",
            "The new policy is invalid; the old one stays in force.",
        ),
        K::RateLimited => ("Terlalu sering.", "Too many requests."),
        K::Internal => (
            "Terjadi kesalahan di server. Silakan coba lagi.",
            "Something went wrong on the server. Please try again.",
        ),
        K::Unavailable => (
            "Layanan sedang sibuk. Silakan coba lagi.",
            "The service is busy. Please try again.",
        ),
        K::StoreUnavailable => (
            "Basis data sedang tidak tersedia. Silakan coba lagi sebentar lagi.",
            "The database is unavailable for the moment. Please try again shortly.",
        ),
        K::StorageFull => (
            "Penyimpanan server penuh; komentar tidak tersimpan. Silakan coba lagi nanti.",
            "The server's storage is full; nothing was saved. Please try again later.",
        ),
        K::PrivacyUnsupported => (
            "Penghapusan data pembaca hanya tersedia dengan penyimpanan bawaan (SQLite).",
            "Erasing a reader's data is only available with the embedded (SQLite) store.",
        ),
    };
    lang.pick(id, en)
}

/// `429`: how long to wait.
pub fn rate_limited(lang: Lang, seconds: u64) -> String {
    match lang {
        Lang::Id => format!("Terlalu sering. Silakan coba lagi dalam {seconds} detik."),
        Lang::En => format!("Too many requests. Please try again in {seconds} seconds."),
    }
}

/// The console's login page after too many failed attempts from one address or for one name:
/// how long to wait. Said on the page, not as JSON: the login form is a browser's.
pub fn login_throttled(lang: Lang, seconds: u64) -> String {
    match lang {
        Lang::Id => format!("Terlalu banyak percobaan masuk. Coba lagi dalam {seconds} detik."),
        Lang::En => format!("Too many login attempts. Try again in {seconds} seconds."),
    }
}

/// The console's answer when another moderator decided a comment first: who, and what they did
/// (`what` is the console's own words for the event, in the same language).
pub fn decided_first(lang: Lang, by: &str, what: &str) -> String {
    match lang {
        Lang::Id => format!("{by} memutuskan lebih dulu: {what}."),
        Lang::En => format!("{by} decided first: {what}."),
    }
}

/// The console's notice after a ban that also moved the banned reader's comments to spam.
pub fn ban_placed(lang: Lang, moved_to_spam: usize) -> String {
    match lang {
        Lang::Id => format!("Larangan dipasang; {moved_to_spam} komentar dipindahkan ke spam."),
        Lang::En => format!("The ban is in place; {moved_to_spam} comments moved to spam."),
    }
}

/// A sentence followed by a detail that is not translated (a parser's or the policy loader's
/// own words, which name a field or a file and a line).
pub fn with_detail(lang: Lang, kind: ErrorKind, detail: &str) -> String {
    let sentence = error(kind, lang);
    let sentence = sentence.strip_suffix('.').unwrap_or(sentence);
    format!("{sentence}: {detail}")
}

/// `409 illegal_transition`, naming the action and the status by their API names.
pub fn illegal_transition(lang: Lang, action: ModeratorAction, status: CommentStatus) -> String {
    let action = action.as_str();
    let status = status.as_str();
    match lang {
        Lang::Id => format!("Tindakan {action} tidak berlaku untuk komentar berstatus {status}."),
        Lang::En => format!("The action {action} does not apply to a comment that is {status}."),
    }
}

/// `409 stale_version` for a wave another moderator decided first.
pub fn wave_decided(lang: Lang, by: &str, action: ModeratorAction) -> String {
    let action = action.as_str();
    match lang {
        Lang::Id => format!("Gelombang ini sudah diputuskan oleh {by} ({action})."),
        Lang::En => format!("This wave was decided already by {by} ({action})."),
    }
}

/// Texts that explain one field or parameter, or replace an error's default sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// A bad `order`.
    Order,
    /// A bad `page`.
    Page,
    /// Too many `threads` in one counts request.
    TooManyThreads,
    /// A bad queue `status`.
    QueueStatus,
    /// A bad queue `cursor`.
    Cursor,
    /// A bad queue `limit`.
    Limit,
    /// A decision `reason` over the limit.
    ReasonTooLong,
    /// The form's `comment_post_ID` is not a thread key.
    FormThread,
    /// Closing a closed thread.
    ThreadAlreadyClosed,
    /// Reopening an open thread.
    ThreadNotClosed,
    /// A console form sent from another site.
    ForeignSite,
    /// A console thread command that changes nothing.
    ThreadSoAlready,
    /// A ban whose expiry is not in the future.
    ExpiryPast,
    /// A ban with both `expires_in_hours` and `expires_at`.
    ExpiryTwice,
    /// A ban's `expires_in_hours` out of range.
    BanHours,
    /// A ban search over the longest value.
    BanQueryTooLong,
    /// A bulk request with no items or too many.
    BulkItems,
    /// A bulk selector with nothing to select by, or too long.
    BulkSelector,
    /// A bulk request with both or neither of `items` and `selector`.
    BulkItemsOrSelector,
    /// A bulk line without `expected_version`.
    ExpectedVersionRequired,
    /// A wave selector with other selectors beside it.
    WaveAlone,
    /// A wave id that is not one.
    WaveId,
    /// A wave decided with an action waves do not take.
    WaveAction,
    /// A wave list `limit` out of range.
    WaveLimit,
    /// An audit filter value that cannot be read.
    AuditValue,
    /// Turning pre-moderation on where it is on.
    PremoderatedAlready,
    /// Turning pre-moderation off where it is off.
    NotPremoderated,
    /// Pre-moderating more threads than the service keeps.
    TooManyPremoderated,
    /// The console's `queue`, which also shows published comments.
    ConsoleQueue,
    /// A console filter (`q`) over the longest value.
    FilterTooLong,
    /// A console decision with an action it does not know.
    UnknownAction,
    /// A console bulk selector field that cannot be read.
    ConsoleSelector,
    /// A console bulk form with no comments chosen or too many.
    ConsoleItems,
}

impl Text {
    /// Every text, for the test that each is in both languages.
    pub const ALL: &'static [Text] = &[
        Text::Order,
        Text::Page,
        Text::TooManyThreads,
        Text::QueueStatus,
        Text::Cursor,
        Text::Limit,
        Text::ReasonTooLong,
        Text::FormThread,
        Text::ThreadAlreadyClosed,
        Text::ThreadNotClosed,
        Text::ForeignSite,
        Text::ThreadSoAlready,
        Text::ExpiryPast,
        Text::ExpiryTwice,
        Text::BanHours,
        Text::BanQueryTooLong,
        Text::BulkItems,
        Text::BulkSelector,
        Text::BulkItemsOrSelector,
        Text::ExpectedVersionRequired,
        Text::WaveAlone,
        Text::WaveId,
        Text::WaveAction,
        Text::WaveLimit,
        Text::AuditValue,
        Text::PremoderatedAlready,
        Text::NotPremoderated,
        Text::TooManyPremoderated,
        Text::ConsoleQueue,
        Text::FilterTooLong,
        Text::UnknownAction,
        Text::ConsoleSelector,
        Text::ConsoleItems,
    ];

    /// The text in `lang`.
    pub fn get(self, lang: Lang) -> &'static str {
        let (id, en) = match self {
            Text::Order => ("Gunakan oldest atau newest.", "Use oldest or newest."),
            Text::Page => ("Nomor halaman dari 1.", "Page numbers start at 1."),
            Text::TooManyThreads => (
                "Paling banyak 200 utas per permintaan.",
                "At most 200 threads per request.",
            ),
            Text::QueueStatus => (
                "Gunakan pending, reported, spam atau rejected.",
                "Use pending, reported, spam or rejected.",
            ),
            Text::Cursor => ("Kursor tidak valid.", "Invalid cursor."),
            Text::ConsoleQueue => (
                "Gunakan pending, reported, spam, rejected atau published.",
                "Use pending, reported, spam, rejected or published.",
            ),
            Text::FilterTooLong => (
                "Saringan paling banyak 254 karakter.",
                "A filter has at most 254 characters.",
            ),
            Text::UnknownAction => ("Tindakan tidak dikenal.", "Unknown action."),
            Text::ConsoleSelector => ("Pemilih tidak valid.", "Invalid selector."),
            Text::ConsoleItems => ("Pilih 1 sampai 500 komentar.", "Select 1 to 500 comments."),
            Text::Limit => ("Batas dari 1 sampai 500.", "Limit from 1 to 500."),
            Text::ReasonTooLong => (
                "Alasan paling banyak 500 karakter.",
                "A reason has at most 500 characters.",
            ),
            Text::FormThread => ("Utas tidak valid.", "Invalid thread."),
            Text::ThreadAlreadyClosed => {
                ("Utas ini sudah ditutup.", "This thread is already closed.")
            }
            Text::ThreadNotClosed => (
                "Utas ini tidak sedang ditutup.",
                "This thread is not closed.",
            ),
            Text::ForeignSite => (
                "Formulir ini dikirim dari situs lain.",
                "This form was sent from another site.",
            ),
            Text::ThreadSoAlready => ("Utas ini sudah begitu.", "The thread is so already."),
            Text::ExpiryPast => (
                "Waktu berakhir harus di masa depan.",
                "The expiry must be in the future.",
            ),
            Text::ExpiryTwice => (
                "Pakai expires_in_hours atau expires_at, bukan keduanya.",
                "Use expires_in_hours or expires_at, not both.",
            ),
            Text::BanHours => ("Antara 1 dan 87600 jam.", "Between 1 and 87,600 hours."),
            Text::BanQueryTooLong => ("Paling banyak 254 karakter.", "At most 254 characters."),
            Text::BulkItems => ("1 sampai 500 komentar.", "1 to 500 comments."),
            Text::BulkSelector => (
                "Pilih email, address, domain atau same_text_as (id komentar yang ada); paling banyak 254 karakter.",
                "Give email, address, domain or same_text_as (an existing comment's id); at most 254 characters.",
            ),
            Text::BulkItemsOrSelector => (
                "Kirim items atau selector, salah satu.",
                "Send either items or selector.",
            ),
            Text::ExpectedVersionRequired => (
                "Versi yang diharapkan wajib diisi.",
                "expected_version is required.",
            ),
            Text::WaveAlone => (
                "Pemilih wave berdiri sendiri, tanpa email, address, domain, same_text_as atau thread.",
                "The wave selector stands alone, without email, address, domain, same_text_as or thread.",
            ),
            Text::WaveId => ("Id gelombang tidak valid.", "The wave id is not valid."),
            Text::WaveAction => (
                "Gelombang diputuskan dengan approve, reject, spam, not_spam atau delete.",
                "A wave is decided with approve, reject, spam, not_spam or delete.",
            ),
            Text::WaveLimit => ("Batas dari 1 sampai 100.", "Limit from 1 to 100."),
            Text::AuditValue => ("Nilai tidak valid.", "Invalid value."),
            Text::PremoderatedAlready => (
                "Utas ini sudah dimoderasi lebih dulu.",
                "This thread is pre-moderated already.",
            ),
            Text::NotPremoderated => (
                "Utas ini tidak dimoderasi lebih dulu.",
                "This thread is not pre-moderated.",
            ),
            Text::TooManyPremoderated => (
                "Terlalu banyak utas yang dimoderasi lebih dulu (2.000).",
                "Too many threads are pre-moderated (2,000).",
            ),
        };
        lang.pick(id, en)
    }
}

/// The moderator's message for a ban's kind or value that cannot be banned.
pub fn ban_input(e: BanInputError, lang: Lang) -> &'static str {
    let (id, en) = match e {
        BanInputError::UnknownKind => (
            "Jenis larangan: email, email_domain, address, cidr, url_domain atau name.",
            "Ban kind: email, email_domain, address, cidr, url_domain or name.",
        ),
        BanInputError::Empty => ("Isi nilai larangan.", "Give the ban's value."),
        BanInputError::TooLong => (
            "Nilai larangan paling banyak 254 karakter.",
            "A ban's value has at most 254 characters.",
        ),
        BanInputError::Email => ("Bukan alamat email.", "Not an email address."),
        BanInputError::Domain => ("Bukan nama domain.", "Not a domain name."),
        BanInputError::Address => ("Bukan alamat IP.", "Not an IP address."),
        BanInputError::Cidr => (
            "Bukan rentang CIDR (mis. 203.0.113.0/24).",
            "Not a CIDR range (e.g. 203.0.113.0/24).",
        ),
        BanInputError::TooWide => (
            "Rentang terlalu lebar (paling lebar /8 untuk IPv4, /24 untuk IPv6).",
            "The range is too wide (at most /8 for IPv4, /24 for IPv6).",
        ),
    };
    lang.pick(id, en)
}

/// The words of the no-JavaScript embed page, shared with `widget.js` (a test in `embed_html`
/// checks the script carries the same).
#[derive(Debug)]
pub struct EmbedWords {
    /// The form's heading.
    pub title: &'static str,
    /// Before the name of the comment answered.
    pub reply_to: &'static str,
    /// Leaves a reply.
    pub cancel: &'static str,
    /// The email stays private.
    pub note: &'static str,
    /// Before the required mark.
    pub req_note: &'static str,
    /// The comment field.
    pub comment: &'static str,
    /// The name field.
    pub name: &'static str,
    /// The email field.
    pub email: &'static str,
    /// The website field.
    pub url: &'static str,
    /// The sum's field.
    pub captcha: &'static str,
    /// The honeypot's label (for screen readers).
    pub hp: &'static str,
    /// The send button.
    pub submit: &'static str,
    /// The reply link.
    pub reply: &'static str,
    /// After a post that waits for a moderator.
    pub pending: &'static str,
    /// After a post that is shown.
    pub published: &'static str,
    /// A thread without comments.
    pub none: &'static str,
    /// The next page's link.
    pub more: &'static str,
    /// A closed thread.
    pub closed: &'static str,
    /// The link back to the article.
    pub back: &'static str,
    /// When no sum can be issued.
    pub no_captcha: &'static str,
    /// Under a minute ago.
    pub just_now: &'static str,
}

/// The page in Indonesian.
pub const EMBED_ID: EmbedWords = EmbedWords {
    title: "Tinggalkan Balasan",
    reply_to: "Balas ke ",
    cancel: "Batalkan balasan",
    note: "Alamat email Anda tidak akan dipublikasikan.",
    req_note: "Ruas yang wajib ditandai",
    comment: "Komentar",
    name: "Nama",
    email: "Email",
    url: "Situs Web",
    captcha: "Isi angka yang hilang",
    hp: "Jangan isi ruas ini",
    submit: "Kirim Komentar",
    reply: "Balas",
    pending: "Komentar Anda menunggu moderasi.",
    published: "Komentar Anda sudah terbit.",
    none: "Belum ada komentar",
    more: "Muat komentar lainnya",
    closed: "Komentar ditutup.",
    back: "Kembali ke artikel",
    no_captcha: "Soal keamanan tidak tersedia saat ini. Muat ulang halaman ini sebentar lagi.",
    just_now: "baru saja",
};

/// The page in English.
pub const EMBED_EN: EmbedWords = EmbedWords {
    title: "Leave a Reply",
    reply_to: "Reply to ",
    cancel: "Cancel reply",
    note: "Your email address will not be published.",
    req_note: "Required fields are marked",
    comment: "Comment",
    name: "Name",
    email: "Email",
    url: "Website",
    captcha: "Fill in the missing number",
    hp: "Leave this field empty",
    submit: "Post Comment",
    reply: "Reply",
    pending: "Your comment is awaiting moderation.",
    published: "Your comment has been published.",
    none: "No comments yet",
    more: "Load more comments",
    closed: "Comments are closed.",
    back: "Back to the article",
    no_captcha: "The security question is not available right now. Reload this page in a moment.",
    just_now: "just now",
};

impl EmbedWords {
    /// Every word, in the order of the fields (for the test that each is translated).
    pub fn all(&self) -> [&'static str; 21] {
        [
            self.title,
            self.reply_to,
            self.cancel,
            self.note,
            self.req_note,
            self.comment,
            self.name,
            self.email,
            self.url,
            self.captcha,
            self.hp,
            self.submit,
            self.reply,
            self.pending,
            self.published,
            self.none,
            self.more,
            self.closed,
            self.back,
            self.no_captcha,
            self.just_now,
        ]
    }
}

/// The embed page's words in `lang`.
pub fn embed_words(lang: Lang) -> &'static EmbedWords {
    match lang {
        Lang::Id => &EMBED_ID,
        Lang::En => &EMBED_EN,
    }
}

/// The captcha's spoken prompt in Indonesian ("Berapa dikurangi 3 sama dengan 3? …").
const SUM_ID: SumWords = SumWords {
    what: "berapa",
    equals: "sama dengan",
    plus: "ditambah",
    minus: "dikurangi",
    times: "dikali",
    instruction: "Tulis jawabannya dengan angka.",
};

/// The captcha's spoken prompt in English ("What minus 3 equals 3? …").
const SUM_EN: SumWords = SumWords {
    what: "what",
    equals: "equals",
    plus: "plus",
    minus: "minus",
    times: "times",
    instruction: "Type the answer in digits.",
};

/// The words of the captcha's spoken prompt (for screen readers) in `lang`, given to
/// [`crate::captcha::Captcha::new`].
pub fn sum_words(lang: Lang) -> &'static SumWords {
    match lang {
        Lang::Id => &SUM_ID,
        Lang::En => &SUM_EN,
    }
}

/// "12 Komentar" / "12 Comments"; "Belum ada komentar" for none.
pub fn comment_count(lang: Lang, n: u64) -> String {
    match (lang, n) {
        (_, 0) => embed_words(lang).none.to_string(),
        (Lang::Id, n) => format!("{n} Komentar"),
        (Lang::En, 1) => "1 Comment".to_string(),
        (Lang::En, n) => format!("{n} Comments"),
    }
}

const MONTHS_ID: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A date as the page shows it: "17 Agustus 2026" / "August 17, 2026" (`month0` from 0).
pub fn date(lang: Lang, day: u32, month0: u32, year: i32) -> String {
    let month = month0 as usize % 12;
    match lang {
        Lang::Id => format!("{day} {} {year}", MONTHS_ID[month]),
        Lang::En => format!("{} {day}, {year}", MONTHS_EN[month]),
    }
}

/// A date and a time of day: "17 Agustus 2026 09.05 UTC" / "August 17, 2026, 09:05 UTC".
pub fn date_time(lang: Lang, date: &str, hour: u32, minute: u32) -> String {
    match lang {
        Lang::Id => format!("{date} {hour:02}.{minute:02} UTC"),
        Lang::En => format!("{date}, {hour:02}:{minute:02} UTC"),
    }
}

/// A unit of relative time, as `Intl.RelativeTimeFormat` in the widget words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// 7 days.
    Week,
    /// 24 hours.
    Day,
    /// 60 minutes.
    Hour,
    /// 60 seconds.
    Minute,
}

impl TimeUnit {
    /// Largest first, the order a relative time picks its unit in.
    pub const ALL: [TimeUnit; 4] = [
        TimeUnit::Week,
        TimeUnit::Day,
        TimeUnit::Hour,
        TimeUnit::Minute,
    ];

    /// Its length.
    pub fn seconds(self) -> i64 {
        match self {
            TimeUnit::Week => 604_800,
            TimeUnit::Day => 86_400,
            TimeUnit::Hour => 3_600,
            TimeUnit::Minute => 60,
        }
    }
}

/// "5 menit yang lalu" / "5 minutes ago".
pub fn time_ago(lang: Lang, n: i64, unit: TimeUnit) -> String {
    let (id, en) = match unit {
        TimeUnit::Week => ("minggu", "week"),
        TimeUnit::Day => ("hari", "day"),
        TimeUnit::Hour => ("jam", "hour"),
        TimeUnit::Minute => ("menit", "minute"),
    };
    match lang {
        Lang::Id => format!("{n} {id} yang lalu"),
        Lang::En if n == 1 => format!("1 {en} ago"),
        Lang::En => format!("{n} {en}s ago"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_sentence_in_both_languages_and_they_differ() {
        for &kind in ErrorKind::ALL {
            let (id, en) = (error(kind, Lang::Id), error(kind, Lang::En));
            assert!(!id.is_empty() && !en.is_empty(), "{kind:?}");
            assert_ne!(id, en, "{kind:?} is not translated");
        }
    }

    #[test]
    fn every_field_problem_has_a_message_in_both_languages_and_they_differ() {
        for &problem in FieldProblem::ALL {
            for field in [
                "body",
                "author_name",
                "author_email",
                "author_url",
                "thread",
            ] {
                let (id, en) = (
                    field_problem(problem, field, Lang::Id),
                    field_problem(problem, field, Lang::En),
                );
                assert!(!id.is_empty() && !en.is_empty(), "{problem:?}");
                assert_ne!(id, en, "{problem:?} is not translated");
            }
        }
        assert!(field_problem(FieldProblem::TooLong, "body", Lang::Id).contains("5000"));
        assert!(field_problem(FieldProblem::Required, "body", Lang::En).contains("required"));
    }

    #[test]
    fn every_text_is_in_both_languages_and_they_differ() {
        for text in Text::ALL {
            let (id, en) = (text.get(Lang::Id), text.get(Lang::En));
            assert!(!id.is_empty() && !en.is_empty(), "{text:?}");
            assert_ne!(id, en, "{text:?} is not translated");
        }
        let distinct: std::collections::BTreeSet<_> =
            Text::ALL.iter().map(|t| t.get(Lang::En)).collect();
        assert_eq!(distinct.len(), Text::ALL.len(), "two texts say the same");
    }

    #[test]
    fn a_throttled_login_says_how_long_to_wait_in_the_moderators_language() {
        let id = login_throttled(Lang::Id, 42);
        let en = login_throttled(Lang::En, 42);
        assert!(
            id.contains("42 detik") && id.contains("percobaan masuk"),
            "{id}"
        );
        assert!(
            en.contains("42 seconds") && en.contains("login attempts"),
            "{en}"
        );
    }

    #[test]
    fn the_consoles_conflict_and_ban_notices_carry_their_facts_in_both_languages() {
        assert_eq!(
            decided_first(Lang::Id, "sari", "disetujui"),
            "sari memutuskan lebih dulu: disetujui."
        );
        assert_eq!(
            decided_first(Lang::En, "sari", "approved"),
            "sari decided first: approved."
        );
        assert!(ban_placed(Lang::Id, 3).contains("3 komentar"));
        assert!(ban_placed(Lang::En, 3).contains("3 comments moved to spam"));
    }

    #[test]
    fn a_decided_wave_names_who_and_how_in_the_readers_language() {
        let id = wave_decided(Lang::Id, "sari", ModeratorAction::Spam);
        let en = wave_decided(Lang::En, "sari", ModeratorAction::Spam);
        assert!(id.contains("sari") && id.contains("spam") && id.contains("diputuskan"));
        assert!(en.contains("sari") && en.contains("spam") && en.contains("decided"));
    }

    #[test]
    fn every_ban_refusal_has_a_message_in_both_languages_and_they_differ() {
        for e in BanInputError::ALL {
            let (id, en) = (
                ban_input(e.clone(), Lang::Id),
                ban_input(e.clone(), Lang::En),
            );
            assert!(!id.is_empty() && !en.is_empty(), "{e:?}");
            assert_ne!(id, en, "{e:?} is not translated");
        }
    }

    #[test]
    fn every_captcha_prompt_word_is_in_both_languages_and_translated() {
        let all = |w: &SumWords| [w.what, w.equals, w.plus, w.minus, w.times, w.instruction];
        let (id, en) = (all(sum_words(Lang::Id)), all(sum_words(Lang::En)));
        for (i, e) in id.iter().zip(&en) {
            assert!(!i.is_empty() && !e.is_empty());
            assert_ne!(i, e, "{i} is not translated");
        }
        let mut distinct = id.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            id.len(),
            "two prompt words are the same: {id:?}"
        );
    }

    #[test]
    fn every_embed_word_is_in_both_languages_and_translated() {
        let (id, en) = (EMBED_ID.all(), EMBED_EN.all());
        for (i, e) in id.iter().zip(&en) {
            assert!(!i.is_empty() && !e.is_empty());
            // "Email" is the same word in both languages.
            assert!(i != e || *i == "Email", "{i} is not translated");
        }
        for unit in TimeUnit::ALL {
            assert_ne!(time_ago(Lang::Id, 2, unit), time_ago(Lang::En, 2, unit));
        }
        for month in 0..12 {
            assert_ne!(
                date(Lang::Id, 1, month, 2026),
                date(Lang::En, 1, month, 2026)
            );
        }
        assert_eq!(time_ago(Lang::En, 1, TimeUnit::Day), "1 day ago");
        assert_eq!(comment_count(Lang::En, 1), "1 Comment");
    }

    #[test]
    fn an_illegal_transition_names_action_and_status_in_the_readers_language() {
        let id = illegal_transition(Lang::Id, ModeratorAction::Restore, CommentStatus::Published);
        assert_eq!(
            id,
            "Tindakan restore tidak berlaku untuk komentar berstatus published."
        );
        let en = illegal_transition(Lang::En, ModeratorAction::NotSpam, CommentStatus::Pending);
        assert_eq!(
            en,
            "The action not_spam does not apply to a comment that is pending."
        );
    }
}
