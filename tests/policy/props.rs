//! Arbitrary input never panics the engine; the slowest screening is measured and printed (not
//! asserted: wall time belongs in benchmarks).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use saring::policy::normalize::normalize;
use saring::policy::{ScreenInput, body_fingerprint};

use crate::default_policy;

/// Text made of pieces that stress normalisation (see `tricky_pieces.rs`).
fn tricky() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(crate::tricky_pieces::TRICKY_PIECES);
    prop::collection::vec(pieces, 0..200).prop_map(|v| v.concat())
}

fn slowest() -> &'static std::sync::Mutex<Duration> {
    static S: std::sync::OnceLock<std::sync::Mutex<Duration>> = std::sync::OnceLock::new();
    S.get_or_init(|| std::sync::Mutex::new(Duration::ZERO))
}

fn screen_timed(body: &str, name: &str) {
    let policy = default_policy();
    let start = Instant::now();
    let v = policy.screen(&ScreenInput {
        body,
        author_name: name,
        author_email: name,
        author_url: Some(body),
        ..Default::default()
    });
    let took = start.elapsed();
    let mut s = slowest().lock().unwrap_or_else(|e| e.into_inner());
    if took > *s {
        *s = took;
        eprintln!("slowest screening so far: {took:?} ({} bytes)", body.len());
    }
    assert!(v.score.is_finite());
    for r in &v.rules {
        if let Some((a, b)) = r.span {
            let field = match r.field.as_str() {
                "body" | "author_url" => body,
                _ => name,
            };
            assert!(
                a <= b
                    && b <= field.len()
                    && field.is_char_boundary(a)
                    && field.is_char_boundary(b),
                "{r:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_unicode_never_panics(body in any::<String>(), name in any::<String>()) {
        screen_timed(&body, &name);
        let _ = body_fingerprint(&body);
    }

    #[test]
    fn tricky_text_never_panics(body in tricky(), name in tricky()) {
        screen_timed(&body, &name);
        let n = normalize(&body);
        prop_assert_eq!(n.words.len(), n.text.len());
    }

    #[test]
    fn normalised_text_is_clean(body in tricky()) {
        let n = normalize(&body);
        prop_assert!(!n.text.chars().any(saring::policy::normalize::is_invisible), "{:?}", n.text);
        prop_assert!(!n.text.bytes().any(|b| b.is_ascii_uppercase()), "{:?}", n.text);
        prop_assert!(!n.text.contains("  ") && !n.text.starts_with(' ') && !n.text.ends_with(' '), "{:?}", n.text);
        for (i, _) in n.text.char_indices() {
            let next = n.text[i..].chars().next().map_or(i, |c| i + c.len_utf8());
            let (a, b) = n.original_span(i, next).expect("every byte maps back");
            prop_assert!(a <= b && b <= body.len() && body.is_char_boundary(a) && body.is_char_boundary(b));
        }
    }
}

#[test]
fn huge_inputs_are_bounded() {
    let big = format!(
        "{}{}{}{}",
        "s l o t ".repeat(100_000),
        "𝐆".repeat(50_000),
        "<".repeat(50_000),
        "&".repeat(50_000)
    );
    let start = Instant::now();
    screen_timed(&big, "x");
    eprintln!("screening {} bytes took {:?}", big.len(), start.elapsed());
}

/// Fragments of policy files, valid and not, for the loader property.
fn policy_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "[thresholds]\nhold = 5.0\nspam = 10.0\n",
        "[[rule]]\n",
        "id = \"A\"\n",
        "id = \"__B\"\n",
        "kind = \"words\"\n",
        "kind = \"regex\"\n",
        "kind = \"meta\"\n",
        "kind = \"ip\"\n",
        "kind = \"link_domain\"\n",
        "kind = \"length\"\n",
        "words = [\"slot\"]\n",
        "pattern = '(a|b)*'\n",
        "pattern = '('\n",
        "pattern = 'a{99999}'\n",
        "all_of = [\"A\"]\n",
        "all_of = [\"__B\"]\n",
        "at_least = 3\nof = [\"A\"]\n",
        "entries = [\"10.0.0.0/8\", \"x\"]\n",
        "list = \"l\"\n",
        "[lists]\nl = \"l.txt\"\n",
        "[lists]\nl = \"../../etc/passwd\"\n",
        "score = 1e308\n",
        "score = -3\n",
        "max = -1\n",
        "min = 5\n",
        "outcome = \"reject\"\n",
        "outcome = \"maybe\"\n",
        "description = { id = \"x\", en = \"y\" }\n",
        "[policy]\nextends = \"default.toml\"\n",
        "\"",
        "[",
        "]",
        "=",
        "\n",
        "é",
        "\u{0}",
        "#",
        "'''",
        "[site]\nown_domains = [\"bücher.example\", \"not a domain\"]\n",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_policy_file_loads_or_fails_with_a_position(text in policy_text()) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("default.toml"), &text).expect("write");
        std::fs::write(dir.path().join("l.txt"), "slot\n# c\n10.0.0.0/8\n").expect("write");
        match saring::policy::Policy::load(dir.path()) {
            Ok(p) => {
                let v = p.screen(&ScreenInput { body: "slot gacor 𝐆𝐀𝐑𝐔𝐃𝐀𝟖𝟖 http://a.example", ..Default::default() });
                prop_assert!(!v.score.is_nan());
            }
            Err(saring::policy::PolicyError::Invalid { line, column, .. }) => prop_assert!(line >= 1 && column >= 1),
            Err(e) => prop_assert!(false, "unexpected error kind: {e}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// A disguised word is always a real piece of the original text, and finding it depends on
    /// nothing but the text.
    #[test]
    fn disguised_word_spans_are_pieces_of_the_original(body in tricky()) {
        let n = normalize(&body);
        let found = saring::policy::normalize::disguised_word(&body, &n, 3);
        if let Some((a, b)) = found {
            prop_assert!(a < b && b <= body.len());
            prop_assert!(body.is_char_boundary(a) && body.is_char_boundary(b));
        }
        prop_assert_eq!(found, saring::policy::normalize::disguised_word(&body, &n, 3));
    }

    /// Plain ASCII words are never disguised, whatever they say.
    #[test]
    fn plain_ascii_words_are_never_disguised(words in prop::collection::vec("[a-zA-Z]{1,12}", 0..40)) {
        let body = words.join(" ");
        let n = normalize(&body);
        prop_assert_eq!(saring::policy::normalize::disguised_word(&body, &n, 3), None);
    }
}
