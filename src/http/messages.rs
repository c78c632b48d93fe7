//! Every Indonesian and English sentence the HTTP API answers with, in one place, so a
//! translator reads one file and no call site glues languages together. (Field messages of the
//! input rules live beside those rules, in `domain::input`; the embed page's texts in
//! `embed_html`.)

use super::error::ErrorKind;
use crate::domain::{CommentStatus, ModeratorAction};
use crate::i18n::Lang;

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
    /// A reader's email for a data request.
    Email,
}

impl Text {
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
            Text::Email => (
                "Wajib: alamat email pembaca.",
                "Required: the reader's email address.",
            ),
        };
        lang.pick(id, en)
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
