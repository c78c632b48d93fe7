//! Input rules for a submission: what a reader may send, and the specific reason when they may not.
//!
//! Pure functions, so every rule is unit-tested and the HTTP layer only translates the result.

use std::collections::BTreeMap;

use serde::Serialize;

use super::values::Email;

/// Longest comment, in characters (Unicode scalar values).
pub const MAX_BODY_CHARS: usize = 5_000;
/// Longest author name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest author URL, in bytes (it must be ASCII-compatible http(s)).
pub const MAX_URL_LEN: usize = 500;
/// Longest email address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest thread key.
pub const MAX_THREAD_KEY: usize = 128;
/// Longest reason text a moderator or reporter may attach.
pub const MAX_REASON_CHARS: usize = 500;

/// Why one field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldProblem {
    /// The field is required and was empty (or only invisible characters).
    Required,
    /// The field is longer than allowed.
    TooLong,
    /// The field contains control characters.
    ControlCharacters,
    /// An email that is not of the form `local@domain.tld`.
    InvalidEmail,
    /// A URL that is not `http://` or `https://` with a host.
    InvalidUrl,
    /// A thread key with characters outside letters, digits and `-_.:`.
    InvalidThreadKey,
    /// A parent id that is not a UUID.
    InvalidId,
    /// Bidirectional embedding, override or isolate controls (U+202A–202E, U+2066–2069), which
    /// can make text (a URL, a name) display in an order other than the one stored.
    BidiControls,
}

impl FieldProblem {
    /// Every problem, for the message catalogue's test (`http::messages`).
    pub const ALL: &'static [FieldProblem] = &[
        FieldProblem::Required,
        FieldProblem::TooLong,
        FieldProblem::ControlCharacters,
        FieldProblem::InvalidEmail,
        FieldProblem::InvalidUrl,
        FieldProblem::InvalidThreadKey,
        FieldProblem::InvalidId,
        FieldProblem::BidiControls,
    ];
}

/// The most characters (or bytes, for the website and the email) `field` may hold: what a
/// [`FieldProblem::TooLong`] message names.
pub fn limit_of(field: &str) -> usize {
    match field {
        "body" => MAX_BODY_CHARS,
        "author_name" => MAX_NAME_CHARS,
        "author_url" => MAX_URL_LEN,
        "author_email" => MAX_EMAIL_LEN,
        "thread" => MAX_THREAD_KEY,
        _ => MAX_REASON_CHARS,
    }
}

/// Problems per field name (`author_name`, `author_email`, `author_url`, `body`, `parent_id`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<&'static str, FieldProblem>);

impl FieldErrors {
    /// Whether no field has a problem.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Records a problem, keeping the first one found for a field.
    pub fn add(&mut self, field: &'static str, problem: FieldProblem) {
        self.0.entry(field).or_insert(problem);
    }

    /// Each field with its problem.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, FieldProblem)> + '_ {
        self.0.iter().map(|(f, p)| (*f, *p))
    }
}

/// A submission as received, before validation.
#[derive(Debug, Clone, Default)]
pub struct RawSubmission<'a> {
    /// Display name.
    pub author_name: &'a str,
    /// Email (private).
    pub author_email: &'a str,
    /// Website, may be empty.
    pub author_url: &'a str,
    /// Comment text.
    pub body: &'a str,
}

/// A submission whose fields all follow the input rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanSubmission {
    /// Trimmed display name.
    pub author_name: String,
    /// Trimmed email, of the form `local@domain.tld`.
    pub author_email: Email,
    /// Website, if given.
    pub author_url: Option<String>,
    /// Text with newlines normalised to `\n` and outer whitespace trimmed.
    pub body: String,
}

/// Whether a character is an invisible format character (zero-width space, joiners, BOM, bidi
/// controls), which must not count as content.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}')
}

fn has_visible_content(s: &str) -> bool {
    s.chars().any(|c| !c.is_whitespace() && !is_invisible(c))
}

/// Letters that render as nothing (Hangul fillers, the blank Braille pattern): legitimate inside
/// Korean or Braille text, but a name made of them looks empty and impersonates "no name".
fn is_blank_looking(c: char) -> bool {
    matches!(
        c,
        '\u{3164}' | '\u{2800}' | '\u{115F}' | '\u{1160}' | '\u{FFA0}'
    )
}

fn has_visible_name(s: &str) -> bool {
    s.chars()
        .any(|c| !c.is_whitespace() && !is_invisible(c) && !is_blank_looking(c))
}

fn has_bidi_control(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
}

fn has_control(s: &str, allow_newlines: bool) -> bool {
    s.chars()
        .any(|c| c.is_control() && !(allow_newlines && (c == '\n' || c == '\t')))
}

/// `\r\n` and lone `\r` become `\n`, so stored text and rendered paragraphs are the same
/// whichever platform the reader typed on.
pub fn normalise_newlines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Checks an email's shape: one `@`, a non-empty local part without spaces, a domain with a dot
/// and only letters, digits, `-` and `.` (Unicode letters allowed for IDN).
pub fn is_valid_email(email: &str) -> bool {
    if email.len() > MAX_EMAIL_LEN || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || local.contains('@') {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Checks that a URL is `http://` or `https://` with a plausible host and no spaces.
pub fn is_valid_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(r) = lower.strip_prefix("https://") {
        r
    } else if let Some(r) = lower.strip_prefix("http://") {
        r
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    !host.is_empty()
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>')
}

/// Checks a thread key: letters, digits and `-_.:`, 1 to 128 bytes.
pub fn is_valid_thread_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_THREAD_KEY
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// Applies every input rule; returns the clean submission or all field problems at once.
pub fn validate(raw: &RawSubmission<'_>) -> Result<CleanSubmission, FieldErrors> {
    let mut errors = FieldErrors::default();

    let name = raw.author_name.trim();
    if has_bidi_control(name) {
        errors.add("author_name", FieldProblem::BidiControls);
    } else if !has_visible_name(name) {
        errors.add("author_name", FieldProblem::Required);
    } else if name.chars().count() > MAX_NAME_CHARS {
        errors.add("author_name", FieldProblem::TooLong);
    } else if has_control(name, false) {
        errors.add("author_name", FieldProblem::ControlCharacters);
    }

    let email = Email::parse(raw.author_email.trim())
        .map_err(|e| errors.add("author_email", e.problem()))
        .ok();

    let url = raw.author_url.trim();
    if url.len() > MAX_URL_LEN {
        errors.add("author_url", FieldProblem::TooLong);
    } else if has_bidi_control(url) {
        errors.add("author_url", FieldProblem::BidiControls);
    } else if !url.is_empty() && !is_valid_url(url) {
        errors.add("author_url", FieldProblem::InvalidUrl);
    }

    let body = normalise_newlines(raw.body);
    let body = body.trim();
    if has_bidi_control(body) {
        errors.add("body", FieldProblem::BidiControls);
    } else if !has_visible_content(body) {
        errors.add("body", FieldProblem::Required);
    } else if body.chars().count() > MAX_BODY_CHARS {
        errors.add("body", FieldProblem::TooLong);
    } else if has_control(body, true) {
        errors.add("body", FieldProblem::ControlCharacters);
    }

    let Some(author_email) = email.filter(|_| errors.is_empty()) else {
        return Err(errors);
    };
    Ok(CleanSubmission {
        author_name: name.to_string(),
        author_email,
        author_url: (!url.is_empty()).then(|| url.to_string()),
        body: body.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw<'a>(name: &'a str, email: &'a str, url: &'a str, body: &'a str) -> RawSubmission<'a> {
        RawSubmission {
            author_name: name,
            author_email: email,
            author_url: url,
            body,
        }
    }

    #[test]
    fn a_normal_comment_passes_and_newlines_are_normalised() {
        let clean = validate(&raw(
            " Budi ",
            "budi@contoh.id",
            "",
            "Baris satu\r\nBaris dua\r",
        ))
        .unwrap();
        assert_eq!(clean.author_name, "Budi");
        assert_eq!(clean.body, "Baris satu\nBaris dua");
        assert_eq!(clean.author_url, None);
    }

    #[test]
    fn every_rule_reports_its_field() {
        let long_name = "a".repeat(101);
        let long_body = "kata ".repeat(1001);
        let long_url = "h".repeat(501);
        let zero_width = "\u{200B}".repeat(5000);
        let cases: Vec<(RawSubmission<'_>, &str, FieldProblem)> = vec![
            (
                raw("", "a@b.id", "", "isi"),
                "author_name",
                FieldProblem::Required,
            ),
            (
                raw(&long_name, "a@b.id", "", "isi"),
                "author_name",
                FieldProblem::TooLong,
            ),
            (
                raw("A\u{7}B", "a@b.id", "", "isi"),
                "author_name",
                FieldProblem::ControlCharacters,
            ),
            (
                raw("A", "", "", "isi"),
                "author_email",
                FieldProblem::Required,
            ),
            (
                raw("A", "bukan-email", "", "isi"),
                "author_email",
                FieldProblem::InvalidEmail,
            ),
            (
                raw("A", "a@b", "", "isi"),
                "author_email",
                FieldProblem::InvalidEmail,
            ),
            (
                raw("A", "a@b.id", "javascript:alert(1)", "isi"),
                "author_url",
                FieldProblem::InvalidUrl,
            ),
            (
                raw("A", "a@b.id", "ftp://x.id", "isi"),
                "author_url",
                FieldProblem::InvalidUrl,
            ),
            (
                raw("A", "a@b.id", &long_url, "isi"),
                "author_url",
                FieldProblem::TooLong,
            ),
            (
                raw("A", "a@b.id", "", "   "),
                "body",
                FieldProblem::Required,
            ),
            (
                raw("A", "a@b.id", "", &zero_width),
                "body",
                FieldProblem::Required,
            ),
            (
                raw("A", "a@b.id", "", &long_body),
                "body",
                FieldProblem::TooLong,
            ),
            (
                raw("A", "a@b.id", "", "halo\u{0}dunia"),
                "body",
                FieldProblem::ControlCharacters,
            ),
        ];
        for (input, field, problem) in cases {
            let errors = validate(&input).expect_err(field);
            assert_eq!(errors.0.get(field), Some(&problem), "{field}: {errors:?}");
        }
    }

    #[test]
    fn bidi_controls_and_blank_looking_names_are_field_errors() {
        for c in ['\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}'] {
            let text = format!("Budi {c}gnp.exe");
            let e = validate(&raw(&text, "a@b.id", "", &text)).unwrap_err();
            assert_eq!(e.0.get("author_name"), Some(&FieldProblem::BidiControls));
            assert_eq!(e.0.get("body"), Some(&FieldProblem::BidiControls));
        }
        for blank in [
            "\u{3164}",
            "\u{2800}\u{2800}",
            "\u{115F}\u{1160}",
            "\u{FFA0}",
            "\u{200B}\u{3164}",
        ] {
            let e = validate(&raw(blank, "a@b.id", "", "Halo semua")).unwrap_err();
            assert_eq!(
                e.0.get("author_name"),
                Some(&FieldProblem::Required),
                "{blank:?}"
            );
        }
        // Inside real text the same letters are fine.
        assert!(validate(&raw("Kim \u{3164}Ji", "a@b.id", "", "Halo")).is_ok());
    }

    #[test]
    fn thread_keys_and_urls() {
        assert!(is_valid_thread_key(
            "berita-2022/11".replace('/', ":").as_str()
        ));
        assert!(!is_valid_thread_key("a b"));
        assert!(!is_valid_thread_key(&"k".repeat(129)));
        assert!(is_valid_url("https://contoh.id/artikel?id=1"));
        assert!(!is_valid_url("https://"));
        assert!(!is_valid_url("https://x.id/\"onmouseover=alert(1)"));
    }

    proptest! {
        #[test]
        fn validation_never_panics_and_clean_output_obeys_the_rules(
            name in ".{0,120}", email in ".{0,40}", url in ".{0,60}", body in ".{0,300}"
        ) {
            if let Ok(clean) = validate(&raw(&name, &email, &url, &body)) {
                prop_assert!(clean.author_name.chars().count() <= MAX_NAME_CHARS);
                prop_assert!(!clean.body.contains('\r'));
                prop_assert!(is_valid_email(clean.author_email.as_str()));
            }
        }
    }
}
