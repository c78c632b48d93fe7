//! Unit tests of the matchers (each kind on positive and negative examples), scoring, meta rules
//! and loading errors. Policies are written to a temporary folder, as an operator would.

use super::*;
use proptest::strategy::Strategy as _;

const HEAD: &str = r#"
[policy]
name = "t"
[thresholds]
hold = 5.0
spam = 10.0
[scoring]
obfuscation = 2.0
"#;

fn policy_with(rules: &str, lists: &[(&str, &str)]) -> Result<Policy, PolicyError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut toml = String::from(HEAD);
    if !lists.is_empty() {
        toml.push_str("[lists]\n");
        for (name, _) in lists {
            toml.push_str(&format!("{name} = \"{name}.txt\"\n"));
        }
    }
    toml.push_str(rules);
    std::fs::write(dir.path().join("default.toml"), toml).expect("write");
    for (name, body) in lists {
        std::fs::write(dir.path().join(format!("{name}.txt")), body).expect("write");
    }
    Policy::load(dir.path())
}

fn policy(rules: &str) -> Policy {
    match policy_with(rules, &[]) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn body(b: &str) -> ScreenInput<'_> {
    ScreenInput {
        body: b,
        author_name: "A",
        author_email: "a@example.com",
        ..Default::default()
    }
}

fn ids(v: &Verdict) -> Vec<&str> {
    v.rules.iter().map(|r| r.id.as_str()).collect()
}

fn hit(p: &Policy, input: &ScreenInput<'_>, id: &str) -> bool {
    ids(&p.screen(input)).contains(&id)
}

fn rule(id: &str, kind_and_more: &str, score: f64) -> String {
    format!(
        "[[rule]]\nid = \"{id}\"\n{kind_and_more}\nscore = {score}\ndescription = {{ id = \"x\", en = \"x\" }}\n"
    )
}

#[test]
fn words_match_on_letter_boundaries_not_substrings() {
    let p = policy(&rule(
        "W",
        "kind = \"words\"\nwords = [\"press\", \"slot\", \"slot gacor\"]",
        1.0,
    ));
    assert!(hit(&p, &body("freedom of the press matters"), "W"));
    assert!(!hit(&p, &body("WordPress is a blog engine"), "W"));
    assert!(!hit(&p, &body("ikut kelas lotus di sanggar"), "W"));
    assert!(hit(&p, &body("main SLOT tiap hari"), "W"));
    // Digits are not letters: the brand-like "slot88" still contains the word.
    assert!(hit(&p, &body("slot88"), "W"));
    // A phrase also matches written as one word.
    let p2 = policy(&rule(
        "W",
        "kind = \"words\"\nwords = [\"slot gacor\"]",
        1.0,
    ));
    assert!(hit(&p2, &body("s l o t g a c o r"), "W"));
    assert!(!hit(&p2, &body("slot kosong, gacor burungnya"), "W"));
}

#[test]
fn words_see_through_disguise_and_say_so() {
    let p = policy(&rule("W", "kind = \"words\"\nwords = [\"maxwin\"]", 3.0));
    let plain = p.screen(&body("maxwin"));
    assert_eq!(plain.score, 3.0);
    assert!(!plain.rules[0].obfuscated);
    for disguised in [
        "m4xw1n",
        "ｍａｘｗｉｎ",
        "m a x w i n",
        "max\u{200B}win",
        "𝐦𝐚𝐱𝐰𝐢𝐧",
        "ᴍᴀxᴡɪɴ",
    ] {
        let v = p.screen(&body(disguised));
        assert_eq!(ids(&v), ["W"], "{disguised}");
        assert!(v.rules[0].obfuscated, "{disguised}");
        assert_eq!(v.score, 5.0, "{disguised}: obfuscation score added");
    }
}

#[test]
fn word_lists_come_from_files_with_comments() {
    let p = policy_with(
        &rule("W", "kind = \"words\"\nlist = \"bad\"", 1.0),
        &[(
            "bad",
            "# a comment\n\ntogel   # trailing comment\nangka jitu\n",
        )],
    )
    .unwrap();
    assert!(hit(&p, &body("prediksi Togel"), "W"));
    assert!(hit(&p, &body("angka  jitu"), "W"));
    assert!(!hit(&p, &body("a comment"), "W"));
}

#[test]
fn regex_rules_run_on_normalised_text_with_original_spans() {
    let p = policy(&rule(
        "R",
        "kind = \"regex\"\npattern = '\\b[a-z]+88\\b'",
        4.0,
    ));
    let text = "Ayo main di 𝐆𝐀𝐑𝐔𝐃𝐀𝟖𝟖 sekarang";
    let v = p.screen(&body(text));
    assert_eq!(ids(&v), ["R"]);
    let (s, e) = v.rules[0].span.unwrap();
    assert_eq!(&text[s..e], "𝐆𝐀𝐑𝐔𝐃𝐀𝟖𝟖");
    assert_eq!(v.rules[0].matched.as_deref(), Some("𝐆𝐀𝐑𝐔𝐃𝐀𝟖𝟖"));
    assert!(v.rules[0].obfuscated);
    assert!(!hit(&p, &body("tahun 1988 dulu"), "R"));
}

#[test]
fn link_count_counts_bare_links_but_not_sentences_or_numbers() {
    let p = policy(&rule("L", "kind = \"link_count\"\nmin = 2", 1.0));
    assert!(hit(
        &p,
        &body("see http://a.example/x and b-site.com/page"),
        "L"
    ));
    assert!(!hit(&p, &body("only http://a.example/x here"), "L"));
    assert!(!hit(&p, &body("2.126.521.750 views.Great.This is it"), "L"));
}

#[test]
fn link_domains_match_subdomains_idn_and_author_url() {
    let p = policy(&rule(
        "D",
        "kind = \"link_domain\"\nentries = [\"wa.me\", \"bücher.example\"]",
        5.0,
    ));
    assert!(hit(&p, &body("chat wa.me/628123"), "D"));
    assert!(hit(&p, &body("https://sub.wa.me/x"), "D"));
    assert!(!hit(&p, &body("https://notwa.me/x"), "D"));
    assert!(hit(&p, &body("http://xn--bcher-kva.example/"), "D"));
    assert!(hit(&p, &body("http://bücher.example/"), "D"));
    let input = ScreenInput {
        author_url: Some("https://wa.me/62812"),
        ..body("halo")
    };
    let v = p.screen(&input);
    assert_eq!(v.rules[0].field, "author_url");
}

#[test]
fn idn_links_are_flagged_whatever_their_spelling() {
    let p = policy(&rule("IDN", "kind = \"link_idn\"", 3.0));
    assert!(hit(&p, &body("login di https://gооgle.com/x"), "IDN")); // Cyrillic о
    assert!(hit(&p, &body("http://xn--ggle-55da.com/"), "IDN"));
    assert!(!hit(&p, &body("https://google.com/"), "IDN"));
}

#[test]
fn own_domains_never_count_and_link_other_skips_listed_domains() {
    let rules = format!(
        "[site]\nown_domains = [\"koran.example\"]\n{}",
        rule(
            "O",
            "kind = \"link_other\"\nentries = [\"youtube.com\"]",
            5.0
        )
    );
    let p = policy(&rules);
    assert!(!hit(&p, &body("lihat https://koran.example/berita/1"), "O"));
    assert!(!hit(&p, &body("https://www.youtube.com/watch?v=abc"), "O"));
    assert!(hit(&p, &body("https://spam.example/"), "O"));
}

#[test]
fn email_lists_match_addresses_and_domains() {
    let p = policy(&rule(
        "E",
        "kind = \"email\"\nentries = [\"bad@x.example\", \"@mailinator.com\"]",
        5.0,
    ));
    let e = |m: &'static str| ScreenInput {
        author_email: m,
        ..body("hi")
    };
    assert!(hit(&p, &e("BAD@x.example"), "E"));
    assert!(hit(&p, &e("who@mailinator.com"), "E"));
    assert!(hit(&p, &e("who@eu.mailinator.com"), "E"));
    assert!(!hit(&p, &e("good@x.example"), "E"));
}

#[test]
fn ip_lists_take_cidr_and_addresses() {
    let p = policy(&rule(
        "I",
        "kind = \"ip\"\nentries = [\"203.0.113.0/24\", \"2001:db8::1\"]",
        5.0,
    ));
    let ip = |a: &str| ScreenInput {
        client_ip: a.parse().ok(),
        ..body("hi")
    };
    assert!(hit(&p, &ip("203.0.113.9"), "I"));
    assert!(hit(&p, &ip("2001:db8::1"), "I"));
    assert!(!hit(&p, &ip("198.51.100.1"), "I"));
    assert!(!hit(&p, &body("hi"), "I"));
}

#[test]
fn honeypot_and_solve_time() {
    let p = policy(&format!(
        "{}{}",
        rule("H", "kind = \"honeypot\"\noutcome = \"spam\"", 0.0),
        rule("T", "kind = \"solve_time\"\nmax = 2000", 3.0)
    ));
    let v = p.screen(&ScreenInput {
        honeypot: Some("http://x"),
        ..body("hi")
    });
    assert_eq!(v.outcome, Outcome::Spam);
    assert!(!hit(
        &p,
        &ScreenInput {
            honeypot: Some(" "),
            ..body("hi")
        },
        "H"
    ));
    assert!(hit(
        &p,
        &ScreenInput {
            solve_time_ms: Some(800),
            ..body("hi")
        },
        "T"
    ));
    assert!(!hit(
        &p,
        &ScreenInput {
            solve_time_ms: Some(4000),
            ..body("hi")
        },
        "T"
    ));
    assert!(!hit(&p, &body("hi"), "T"));
}

#[test]
fn history_rules_fire_only_with_history() {
    let p = policy(&format!(
        "{}{}{}{}",
        rule("FIRST", "kind = \"history\"\ncheck = \"first_time\"", 1.0),
        rule(
            "TRUST",
            "kind = \"history\"\ncheck = \"trusted\"\nmin = 3",
            -5.0
        ),
        rule(
            "DUP",
            "kind = \"duplicate\"\nscope = \"author\"\nmin = 1",
            3.0
        ),
        rule(
            "WAVE",
            "kind = \"duplicate\"\nscope = \"threads\"\nmin = 2",
            6.0
        )
    ));
    assert!(p.screen(&body("hi")).rules.is_empty());
    let h = |h: History| ScreenInput {
        history: Some(h),
        ..body("hi")
    };
    assert_eq!(ids(&p.screen(&h(History::default()))), ["FIRST"]);
    assert_eq!(
        ids(&p.screen(&h(History {
            author_approved: 3,
            ..Default::default()
        }))),
        ["TRUST"]
    );
    assert_eq!(
        ids(&p.screen(&h(History {
            author_approved: 1,
            same_body_same_author: 1,
            ..Default::default()
        }))),
        ["DUP"]
    );
    let wave = p.screen(&h(History {
        author_approved: 1,
        same_body_threads: 2,
        ..Default::default()
    }));
    assert_eq!(ids(&wave), ["WAVE"]);
    for check in ["author_spam", "ip_spam", "url_spam"] {
        let q = policy(&rule(
            "S",
            &format!("kind = \"history\"\ncheck = \"{check}\"\nmin = 1"),
            5.0,
        ));
        assert!(!hit(&q, &h(History::default()), "S"));
        let one = match check {
            "author_spam" => History {
                author_spam: 1,
                ..Default::default()
            },
            "ip_spam" => History {
                ip_spam: 1,
                ..Default::default()
            },
            _ => History {
                url_spam: 1,
                ..Default::default()
            },
        };
        assert!(hit(&q, &h(one), "S"), "{check}");
    }
}

#[test]
fn shouting_char_runs_and_length() {
    let p = policy(&format!(
        "{}{}{}",
        rule("SH", "kind = \"shouting\"\nmin = 10\nratio = 0.8", 1.0),
        rule("RUN", "kind = \"char_run\"\nmin = 6", 1.0),
        rule("LEN", "kind = \"length\"\nmin = 3\nmax = 20", 1.0)
    ));
    assert!(hit(&p, &body("THIS IS ALL CAPS TEXT"), "SH"));
    assert!(!hit(&p, &body("This is Normal text"), "SH"));
    assert!(!hit(&p, &body("OK FINE"), "SH")); // too few letters to judge
    assert!(hit(&p, &body("wowwwwwww"), "RUN"));
    assert!(!hit(&p, &body("wowww nice"), "RUN"));
    assert!(hit(&p, &body("ok"), "LEN"));
    assert!(hit(&p, &body("this one is longer than twenty"), "LEN"));
    assert!(!hit(&p, &body("just right"), "LEN"));
}

#[test]
fn mixed_scripts_and_styled_letters() {
    let p = policy(&format!(
        "{}{}",
        rule(
            "MIX",
            "kind = \"mixed_script\"\nfields = [\"body\", \"author_name\"]",
            3.0
        ),
        rule("STY", "kind = \"styled\"\nmin = 4", 2.0)
    ));
    assert!(hit(&p, &body("gаrudа88"), "MIX")); // Cyrillic а inside a Latin word
    assert!(!hit(&p, &body("Привет, hello"), "MIX")); // two scripts, separate words
    assert!(hit(
        &p,
        &ScreenInput {
            author_name: "Јudi",
            ..body("hi")
        },
        "MIX"
    ));
    assert!(hit(&p, &body("𝐆𝐀𝐑𝐔𝐃𝐀"), "STY"));
    assert!(hit(&p, &body("ｇａｒｕｄａ"), "STY"));
    assert!(!hit(&p, &body("garuda 🇮🇩"), "STY"));
}

#[test]
fn phone_numbers() {
    let p = policy(&rule("P", "kind = \"phone\"", 2.0));
    for yes in [
        "WA 0812-3456-7890",
        "hub +62 812 9876 5432",
        "6281234567890",
        "+1 202 555 0147",
    ] {
        assert!(hit(&p, &body(yes), "P"), "{yes}");
    }
    for no in [
        "tahun 2025 ada 270 juta penduduk",
        "Rp 1.500.000",
        "jam 08.30",
    ] {
        assert!(!hit(&p, &body(no), "P"), "{no}");
    }
}

#[test]
fn thresholds_and_forced_outcomes() {
    let p = policy(&format!(
        "{}{}{}{}",
        rule("A", "kind = \"words\"\nwords = [\"alpha\"]", 5.0),
        rule("B", "kind = \"words\"\nwords = [\"beta\"]", 5.0),
        rule(
            "R",
            "kind = \"words\"\nwords = [\"gamma\"]\noutcome = \"reject\"",
            0.0
        ),
        rule(
            "H",
            "kind = \"words\"\nwords = [\"delta\"]\noutcome = \"hold\"",
            0.0
        )
    ));
    assert_eq!(p.screen(&body("nothing")).outcome, Outcome::Accept);
    assert_eq!(p.screen(&body("alpha")).outcome, Outcome::Hold);
    assert_eq!(p.screen(&body("alpha beta")).outcome, Outcome::Spam);
    assert_eq!(p.screen(&body("gamma")).outcome, Outcome::Reject);
    assert_eq!(p.screen(&body("alpha beta gamma")).outcome, Outcome::Reject);
    assert_eq!(p.screen(&body("delta")).outcome, Outcome::Hold);
    assert_eq!(p.screen(&body("delta alpha beta")).outcome, Outcome::Spam);
    assert_eq!(p.screen(&body("x")).policy_version, p.version());
}

#[test]
fn meta_rules_and_sub_rules() {
    let p = policy(&format!(
        "{}{}{}{}{}{}",
        rule("__A", "kind = \"words\"\nwords = [\"alpha\"]", 99.0),
        rule("__B", "kind = \"words\"\nwords = [\"beta\"]", 0.0),
        rule("__C", "kind = \"words\"\nwords = [\"gamma\"]", 0.0),
        rule("ALL", "kind = \"meta\"\nall_of = [\"__A\", \"__B\"]", 4.0),
        rule(
            "LEAST",
            "kind = \"meta\"\nat_least = 2\nof = [\"__A\", \"__B\", \"__C\"]",
            1.0
        ),
        rule(
            "NOT",
            "kind = \"meta\"\nany_of = [\"__A\"]\nnone_of = [\"__C\"]",
            0.5
        )
    ));
    // A sub-rule alone scores nothing and is not listed.
    let v = p.screen(&body("alpha"));
    assert_eq!(ids(&v), ["NOT"]);
    assert_eq!(v.score, 0.5);
    assert_eq!(ids(&p.screen(&body("alpha beta"))), ["ALL", "LEAST", "NOT"]);
    assert_eq!(ids(&p.screen(&body("beta gamma"))), ["LEAST"]);
    assert_eq!(ids(&p.screen(&body("alpha gamma"))), ["LEAST"]);
}

#[test]
fn meta_rules_may_build_on_meta_rules_defined_later() {
    let p = policy(&format!(
        "{}{}{}",
        rule("TOP", "kind = \"meta\"\nall_of = [\"MID\"]", 1.0),
        rule("MID", "kind = \"meta\"\nall_of = [\"__A\"]", 1.0),
        rule("__A", "kind = \"words\"\nwords = [\"alpha\"]", 0.0)
    ));
    assert_eq!(ids(&p.screen(&body("alpha"))), ["TOP", "MID"]);
}

fn load_err(rules: &str, lists: &[(&str, &str)]) -> String {
    match policy_with(rules, lists) {
        Ok(_) => panic!("policy should not load"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn load_errors_carry_file_line_and_column() {
    let head_lines = HEAD.lines().count();
    // Syntax error.
    let e = load_err("[[rule]]\nid = \n", &[]);
    assert!(
        e.contains(&format!("default.toml:{}:", head_lines + 2)),
        "{e}"
    );
    // Bad regex: points at the pattern's line.
    let e = load_err(
        &rule("R", "kind = \"regex\"\npattern = '(unclosed'", 1.0),
        &[],
    );
    assert!(
        e.contains(&format!("default.toml:{}:11:", head_lines + 4)),
        "{e}"
    );
    assert!(e.contains("bad pattern"), "{e}");
    // Unknown kind.
    let e = load_err(&rule("K", "kind = \"telepathy\"", 1.0), &[]);
    assert!(
        e.contains(&format!("default.toml:{}:8: unknown kind", head_lines + 3)),
        "{e}"
    );
    // Unknown key.
    let e = load_err(&rule("K", "kind = \"words\"\nwordz = [\"x\"]", 1.0), &[]);
    assert!(e.contains("wordz"), "{e}");
    // Missing list and meta reference.
    let e = load_err(&rule("W", "kind = \"words\"\nlist = \"nope\"", 1.0), &[]);
    assert!(e.contains("no list named nope"), "{e}");
    let e = load_err(
        &rule("M", "kind = \"meta\"\nall_of = [\"GHOST\"]", 1.0),
        &[],
    );
    assert!(e.contains("no enabled rule GHOST"), "{e}");
    // A cycle through meta rules.
    let e = load_err(
        &format!(
            "{}{}",
            rule("M1", "kind = \"meta\"\nall_of = [\"M2\"]", 1.0),
            rule("M2", "kind = \"meta\"\nall_of = [\"M1\"]", 1.0)
        ),
        &[],
    );
    assert!(e.contains("depends on itself"), "{e}");
    // A bad entry in a list file points at the list file's line.
    let e = load_err(
        &rule("I", "kind = \"ip\"\nlist = \"nets\"", 1.0),
        &[("nets", "# nets\n10.0.0.0/8\nnot-an-ip\n")],
    );
    assert!(e.contains("nets.txt:3:1: not an address or CIDR"), "{e}");
    // Duplicate ids.
    let e = load_err(
        &format!(
            "{}{}",
            rule("D", "kind = \"honeypot\"", 1.0),
            rule("D", "kind = \"honeypot\"", 1.0)
        ),
        &[],
    );
    assert!(e.contains("duplicate rule id D"), "{e}");
    // Missing description.
    let e = load_err("[[rule]]\nid = \"N\"\nkind = \"honeypot\"\n", &[]);
    assert!(e.contains("description"), "{e}");
}

#[test]
fn version_is_a_hash_of_the_files() {
    let a = policy(&rule("W", "kind = \"words\"\nwords = [\"a\"]", 1.0));
    let b = policy(&rule("W", "kind = \"words\"\nwords = [\"a\"]", 1.0));
    let c = policy(&rule("W", "kind = \"words\"\nwords = [\"b\"]", 1.0));
    assert_eq!(a.version(), b.version());
    assert_ne!(a.version(), c.version());
    assert_eq!(a.version().len(), 32);
    assert!(a.version().chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn summary_counts_rules_by_kind() {
    let p = policy(&format!(
        "{}{}{}",
        rule("__A", "kind = \"words\"\nwords = [\"alpha\"]", 0.0),
        rule(
            "B",
            "kind = \"words\"\nwords = [\"beta\", \"gamma delta\"]",
            1.0
        ),
        rule("M", "kind = \"meta\"\nall_of = [\"__A\"]", 1.0)
    ));
    let s = p.summary();
    assert_eq!(s.rules, 3);
    assert_eq!(s.sub_rules, 1);
    assert_eq!(s.by_kind.get("words"), Some(&2));
    assert_eq!(s.by_kind.get("meta"), Some(&1));
    // "gamma delta" is compiled twice: as a phrase and joined.
    assert_eq!(s.word_patterns, 4);
}

#[test]
fn fingerprint_ignores_disguise_but_not_content() {
    let a = body_fingerprint("Slot gacor, daftar sekarang!");
    assert_eq!(a, body_fingerprint("  s l o t   GACOR daftar sekarang "));
    assert_eq!(
        a,
        body_fingerprint("ｓｌｏｔ ｇａｃｏｒ, daftar\u{200B} sekarang!!!")
    );
    assert_ne!(a, body_fingerprint("Slot gacor, jangan daftar!"));
    // Stable across runs and machines.
    assert_eq!(body_fingerprint(""), 0xcbf2_9ce4_8422_2325);
}

#[test]
fn screening_is_deterministic() {
    let p = policy(&rule("W", "kind = \"words\"\nwords = [\"x\"]", 1.0));
    let i = body("x marks the spot");
    assert_eq!(p.screen(&i), p.screen(&i));
}

/// Pieces of text the raw-text rules treat differently: ASCII, styled alphabets, look-alike
/// scripts, letterlike symbols, combining styling, other writing systems and spaces.
const RAW_PIECES: &[&str] = &[
    "slot",
    "GACOR",
    "88",
    " ",
    "\n",
    ", ",
    "𝐆𝐀𝐑𝐔𝐃𝐀",
    "𝟖𝟖",
    "𝓢𝓮𝓶𝓪",
    "ｇａｒ",
    "Ⓐ",
    "ᴀʏᴀɴɢ",
    "ℍℓ",
    "g\u{430}ruda",
    "Москва",
    "Ελλάδα",
    "ru\u{336}si",
    "한국",
    "é",
    "\u{1d455}",
    "\u{200b}",
    "🇮🇩",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

    /// One pass over the raw text answers the capitals, styled-letter and mixed-script rules
    /// exactly as their own passes did, on any mix of scripts and styles.
    #[test]
    fn raw_facts_agree_with_the_separate_passes(
        parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::sample::select(RAW_PIECES).prop_map(str::to_string),
                proptest::char::any().prop_map(String::from),
            ],
            0..24,
        ),
        min in 0usize..6,
        min_letters in 0usize..12,
        ratio in 0.0f64..1.0,
    ) {
        let text: String = parts.concat();
        let f = RawFacts::read(&text);
        proptest::prop_assert_eq!(f.mixed_script, mixed_script_word(&text), "{:?}", text);
        proptest::prop_assert_eq!(f.styled(min), styled(&text, min), "{:?}", text);
        proptest::prop_assert_eq!(
            f.shouting(min_letters, ratio),
            shouting(&text, min_letters, ratio),
            "{:?}", text
        );
    }
}

#[test]
fn ascii_and_math_alphanumeric_classes_match_the_unicode_tables() {
    for u in (0..0x80).chain(0x1D400..0x1D800) {
        let c = char::from_u32(u).expect("not a surrogate");
        assert_eq!(char_class(c), char_class_slow(c), "U+{u:X}");
    }
}

/// Pieces of bodies for the "normalised once" property: the shipped policy's kinds of bait
/// (links, judol words, disguises, markup) among ordinary words.
const BODY_PIECES: &[&str] = &[
    "slot gacor",
    "https://judi-88.example/daftar",
    "www.bonus.co.id",
    "<a href=\"http://x.test\">klik</a>",
    "&amp;",
    "Terima kasih beritanya",
    "WA 0812-3456-7890",
    "s l o t",
    "m4xw1n",
    "Rp 500rb",
    "𝐕𝐈𝐒𝐈𝟒𝐃",
    "\u{200b}",
    " ",
    "\n",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// A body normalised once and handed to the screening, the fingerprint, the link hosts and
    /// the wave shape gives what each gave normalising it itself, with the shipped policy.
    #[test]
    fn a_body_normalised_once_screens_as_before(
        parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::sample::select(BODY_PIECES).prop_map(str::to_string),
                proptest::sample::select(RAW_PIECES).prop_map(str::to_string),
                proptest::char::any().prop_map(String::from),
            ],
            0..20,
        ),
    ) {
        let text: String = parts.concat();
        let policy = shipped();
        let n = normalize(&text);
        let input = body(&text);
        proptest::prop_assert_eq!(policy.screen_normalized(&input, None, &n), policy.screen(&input));
        proptest::prop_assert_eq!(policy.link_hosts_in(&text, &n), policy.link_hosts(&text));
        proptest::prop_assert_eq!(body_fingerprint_of(&n), body_fingerprint(&text));
        let at = chrono::Utc::now();
        let id = uuid::Uuid::nil();
        let hosts = policy.link_hosts(&text);
        proptest::prop_assert_eq!(
            crate::projections::waves::Observation::of_normalized(id, "t", at, &text, &n, &hosts),
            crate::projections::waves::Observation::of(id, "t", at, &text, &hosts)
        );
    }
}

/// The policy in `policies/`, loaded once for the property above.
fn shipped() -> &'static Policy {
    static SHIPPED: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    SHIPPED.get_or_init(|| {
        Policy::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"))
            .expect("the shipped policy loads")
    })
}
