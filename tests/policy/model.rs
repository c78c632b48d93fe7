//! The learned rule kind: deterministic training, the model file's checks, `kind = "model"` in
//! policy files, explanations, and the bound on its score.

use std::path::Path;

use proptest::prelude::*;
use saring::policy::dataset::{Split, train_files};
use saring::policy::model::{Example, Model, Threshold, TrainConfig, bounded_score, train};
use saring::policy::{Outcome, Policy, PolicyError, ScreenInput};

use crate::{copy_dir, default_policy, root};

/// A small made-up labelled set: promotions of invented brands and ordinary comments, some of
/// which talk about gambling.
fn synthetic() -> Vec<(String, String, bool)> {
    let brands = [
        "zorbatoto",
        "kilat77",
        "mega4d",
        "rajaspin88",
        "dewabet",
        "jpwin9",
    ];
    let praise = [
        "mantap banget main di {} hari ini langsung wd",
        "coba deh {} gacor parah, modal kecil jp besar",
        "cuma di {} aku bisa menang terus, recommended",
        "{} emang paling top, sehari bisa wd 3 kali",
    ];
    let ham = [
        "polisi menangkap bandar judi online di kota kami, semoga jera",
        "korban judol makin banyak, pemerintah harus blokir situsnya",
        "burung murai saya gacor sekali pagi ini",
        "jalan di depan rumah rusak parah sejak musim hujan",
        "terima kasih atas liputannya, sangat membantu warga",
        "harga cabai naik lagi menjelang lebaran",
        "semoga timnas menang 2-1 lawan vietnam nanti malam",
        "saya setuju dengan pendapat penulis soal transportasi umum",
    ];
    let mut out = Vec::new();
    for (i, b) in brands.iter().enumerate() {
        for p in &praise {
            out.push((p.replace("{}", b), format!("user{i}"), true));
        }
    }
    for (i, h) in ham.iter().enumerate() {
        for k in 0..3 {
            out.push((format!("{h} {k}"), format!("Pembaca {i}"), false));
        }
    }
    out
}

fn small_config() -> TrainConfig {
    TrainConfig {
        epochs: 6,
        ..TrainConfig::default()
    }
}

fn train_on(data: &[(String, String, bool)]) -> Model {
    let ex: Vec<Example<'_>> = data
        .iter()
        .map(|(b, a, s)| Example {
            body: b,
            author: a,
            spam: *s,
        })
        .collect();
    train(&ex, &small_config(), &mut |_| {})
}

#[test]
fn the_same_data_trains_the_same_file_byte_for_byte() {
    let data = synthetic();
    let a = train_on(&data).to_bytes();
    let b = train_on(&data).to_bytes();
    assert_eq!(a, b, "two trainings on the same data differ");
    // And the bytes do depend on the data: one label flipped changes the file.
    let mut other = data.clone();
    other[0].2 = false;
    assert_ne!(train_on(&other).to_bytes(), a);
}

#[test]
fn a_trained_model_separates_unseen_promotions_from_gambling_news() {
    let m = train_on(&synthetic());
    let promo = m.probability_of("main di kilat77 gacor parah langsung wd", "");
    let news = m.probability_of(
        "bandar judi online ditangkap polisi, korban judol",
        "Pembaca",
    );
    assert!(promo > 0.5, "promotion p = {promo}");
    assert!(news < 0.5, "news p = {news}");
}

/// A copy of the shipped policies in a temporary folder.
fn temp_policies() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&root().join("policies"), dir.path());
    dir
}

fn load_err(dir: &Path) -> String {
    match Policy::load(dir) {
        Ok(_) => panic!("the policy should not load"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_corrupt_truncated_or_foreign_model_file_stops_the_policy_with_a_clear_error() {
    let dir = temp_policies();
    let file = dir.path().join("model/judol.bin");
    let good = std::fs::read(&file).expect("shipped model");

    let mut flipped = good.clone();
    flipped[1000] ^= 0x40;
    std::fs::write(&file, &flipped).expect("write");
    let e = load_err(dir.path());
    assert!(e.contains("judol.bin:1:1") && e.contains("checksum"), "{e}");

    std::fs::write(&file, &good[..good.len() / 2]).expect("write");
    let e = load_err(dir.path());
    assert!(e.contains("truncated"), "{e}");

    let mut v9 = good.clone();
    v9[8] = 9;
    std::fs::write(&file, &v9).expect("write");
    let e = load_err(dir.path());
    assert!(e.contains("version 9"), "{e}");

    std::fs::write(&file, b"# not a model\n").expect("write");
    let e = load_err(dir.path());
    assert!(e.contains("not a Saring model"), "{e}");
}

/// A policy file with one model rule written from `fields`.
fn policy_with(dir: &Path, fields: &str) -> Result<Policy, PolicyError> {
    std::fs::create_dir_all(dir.join("model")).expect("mkdir");
    std::fs::write(
        dir.join("model/tiny.bin"),
        train_on(&synthetic()).to_bytes(),
    )
    .expect("write model");
    std::fs::write(
        dir.join("policy.toml"),
        format!(
            "[thresholds]\nhold = 5.0\nspam = 10.0\n\n[[rule]]\nid = \"MODEL_SPAM\"\nkind = \"model\"\n{fields}\ndescription = {{ id = \"Model\", en = \"Model\" }}\n"
        ),
    )
    .expect("write policy");
    Policy::load(dir)
}

#[test]
fn model_rules_with_bad_fields_are_refused_with_the_line_and_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("min_probability = 0.5\nscore = 3.0", "model needs `file`"),
        (
            "file = \"model/none.bin\"\nmin_probability = 0.5\nscore = 3.0",
            "no such file model/none.bin",
        ),
        (
            "file = \"model/tiny.bin\"\nscore = 3.0",
            "exactly one of `min_probability` or `max_probability`",
        ),
        (
            "file = \"model/tiny.bin\"\nmin_probability = 0.5\nmax_probability = 0.1\nscore = 3.0",
            "exactly one of",
        ),
        (
            "file = \"model/tiny.bin\"\nmin_probability = 1.5\nscore = 3.0",
            "between 0 and 1",
        ),
        (
            "file = \"model/tiny.bin\"\nmin_probability = 0.5\nscore = 3.0\nmax_score = 1.0",
            "max_score must be at least as far from 0 as score",
        ),
        (
            "file = \"model/tiny.bin\"\nmin_probability = 0.5\nscore = 3.0\nmax_scor = 9.0",
            "unknown field `max_scor`",
        ),
    ];
    for (fields, want) in cases {
        let e = match policy_with(dir.path(), fields) {
            Ok(_) => panic!("loaded with {fields:?}"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(want), "{fields:?}: {e}");
        assert!(e.contains("policy.toml:"), "{fields:?}: no file in {e}");
    }
    let ok = policy_with(
        dir.path(),
        "file = \"model/tiny.bin\"\nmin_probability = 0.5\nscore = 3.0\nmax_score = 8.0",
    )
    .expect("a good model rule loads");
    assert_eq!(ok.summary().by_kind.get("model"), Some(&1));
}

#[test]
fn the_policy_version_changes_with_the_model_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fields = "file = \"model/tiny.bin\"\nmin_probability = 0.5\nscore = 3.0";
    let a = policy_with(dir.path(), fields).expect("loads");
    let mut other = synthetic();
    other.truncate(10);
    std::fs::write(
        dir.path().join("model/tiny.bin"),
        train_on(&other).to_bytes(),
    )
    .expect("w");
    let b = Policy::load(dir.path()).expect("loads");
    assert_ne!(a.version(), b.version());
    assert!(
        b.files().iter().any(|f| f.ends_with("model/tiny.bin")),
        "the watcher must see the model file"
    );
}

#[test]
fn the_shipped_model_catches_an_unknown_styled_promotion_and_explains_it() {
    let p = default_policy();
    assert!(p.has_model(), "the default policy ships a model rule");
    // A brand that is in no list or training file, styled, in praise.
    let body = "Alhamdulillah rezeki anak sholeh, semalam main di 𝐊𝐔𝐃𝐀𝐋𝐈𝐑𝟕𝟕 langsung wd 2jt 🔥";
    let v = p.screen(&ScreenInput {
        body,
        author_name: "Siti",
        ..Default::default()
    });
    assert!(v.outcome >= Outcome::Hold, "{v:#?}");
    let hit = v
        .rules
        .iter()
        .find(|r| r.id == "MODEL_SPAM")
        .unwrap_or_else(|| panic!("MODEL_SPAM did not fire: {v:#?}"));
    assert!(!hit.evidence.is_empty() && hit.evidence.len() <= 5);
    assert!(hit.evidence.windows(2).all(|w| w[0].weight >= w[1].weight));
    for e in &hit.evidence {
        if let (Some((s, t)), Some(m)) = (e.span, &e.matched) {
            let original = if e.field == "body" { body } else { "Siti" };
            assert_eq!(&original[s..t], m, "{e:?}");
        }
    }
    assert!(
        hit.evidence.iter().any(|e| e.span.is_some()),
        "at least one feature points at the text: {:?}",
        hit.evidence
    );
}

#[test]
fn the_shipped_model_lets_news_talk_about_gambling_pass() {
    let p = default_policy();
    for body in [
        "Polisi kembali menangkap bandar judi online, korban judol di kampung kami sudah banyak yang terlilit utang.",
        "Pemerintah harus tegas memblokir situs slot, jangan cuma razia warung.",
    ] {
        let v = p.screen(&ScreenInput {
            body,
            author_name: "Pembaca Setia",
            ..Default::default()
        });
        assert_eq!(v.outcome, Outcome::Accept, "{body}: {v:#?}");
        assert!(v.rules.iter().all(|r| r.id != "MODEL_SPAM_SURE"), "{v:#?}");
    }
}

#[test]
fn policy_train_reads_jsonl_and_csv_and_keeps_the_hold_out_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jsonl = dir.path().join("id.jsonl");
    let mut lines = String::new();
    for (i, (b, a, s)) in synthetic().iter().enumerate() {
        lines.push_str(
            &serde_json::json!({
                "body": b, "author": a, "label": if *s { "spam" } else { "ham" },
                "source": format!("test#comment_id={i}")
            })
            .to_string(),
        );
        lines.push('\n');
    }
    std::fs::write(&jsonl, lines).expect("write");
    let csv = dir.path().join("en.csv");
    std::fs::write(
        &csv,
        "COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS\n1,Ann,,check out my channel please,1\n2,Bob,,love this song,0\n",
    )
    .expect("write");
    let out = dir.path().join("model/out.bin");
    let mut log = Vec::new();
    let m = train_files(
        &[jsonl.clone(), csv.clone()],
        &out,
        Split::Train,
        &small_config(),
        &mut log,
    )
    .expect("trains");
    let log = String::from_utf8(log).expect("utf8");
    let n_train = synthetic()
        .iter()
        .enumerate()
        .filter(|(i, _)| !saring::policy::dataset::is_holdout(&format!("test#comment_id={i}")))
        .count();
    assert!(
        log.contains(&format!("{n_train} labelled lines in the Train split")),
        "{log}"
    );
    assert!(log.contains("2 labelled lines"), "{log}");
    assert!(log.contains("epoch 6/6"), "progress is shown: {log}");
    assert_eq!(Model::load(&out).expect("written model loads"), m);
}

#[test]
fn bounded_score_meets_its_ends() {
    assert_eq!(bounded_score(0.49, Threshold::AtLeast(0.5), 3.0, 8.0), None);
    assert_eq!(
        bounded_score(0.5, Threshold::AtLeast(0.5), 3.0, 8.0),
        Some(3.0)
    );
    assert_eq!(
        bounded_score(1.0, Threshold::AtLeast(0.5), 3.0, 8.0),
        Some(8.0)
    );
    assert_eq!(
        bounded_score(0.0, Threshold::AtMost(0.1), -1.0, -3.0),
        Some(-3.0)
    );
    assert_eq!(bounded_score(0.2, Threshold::AtMost(0.1), -1.0, -3.0), None);
}

proptest! {
    #[test]
    fn bounded_score_stays_between_score_and_max_score(
        p in prop::num::f64::ANY,
        t in 0.01f64..0.99,
        score in -20.0f64..20.0,
        extra in 0.0f64..20.0,
        above in any::<bool>(),
    ) {
        let max = if score >= 0.0 { score + extra } else { score - extra };
        let th = if above { Threshold::AtLeast(t) } else { Threshold::AtMost(t) };
        if let Some(s) = bounded_score(p, th, score, max) {
            prop_assert!(s.abs() <= max.abs() + 1e-9 && s.abs() >= score.abs() - 1e-9, "{s}");
        }
    }

    #[test]
    fn the_model_rule_never_scores_past_its_max_score(body in ".{0,300}", name in ".{0,40}") {
        let v = default_policy().screen(&ScreenInput {
            body: &body,
            author_name: &name,
            ..Default::default()
        });
        for r in v.rules.iter().filter(|r| r.id.starts_with("MODEL_")) {
            prop_assert!(r.score.abs() <= model_max() + 1e-9, "{}: {}", r.id, r.score);
            prop_assert!(r.evidence.len() <= 5);
        }
    }
}

/// The largest |max_score| (or |score|) of the model rules in policies/default.toml.
fn model_max() -> f64 {
    static MAX: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        let text = std::fs::read_to_string(root().join("policies/default.toml")).expect("read");
        let v: toml::Value = toml::from_str(&text).expect("toml");
        let rules = v["rule"].as_array().expect("rules");
        let m = rules
            .iter()
            .filter(|r| r["kind"].as_str() == Some("model"))
            .flat_map(|r| ["score", "max_score"].map(|k| r.get(k).and_then(|x| x.as_float())))
            .flatten()
            .fold(0f64, |m, x| m.max(x.abs()));
        assert!(m > 0.0, "the default policy has model rules");
        m
    })
}

#[test]
fn what_the_moderators_taught_shows_as_its_own_line_in_the_verdict() {
    use saring::policy::learned::{Decision, LearnedModel, Taught};
    let p = default_policy();
    let config = p.model().expect("shipped model").config();
    let mut learned = LearnedModel::new(config);
    let bodies: Vec<String> = (0..5)
        .map(|i| {
            format!("Pesan dari Kakek Sakti Mandraguna: cuan harian dijamin, hubungi admin {i}")
        })
        .collect();
    let ids: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
    let authors: Vec<String> = (0..5).map(|i| format!("a{i}")).collect();
    for i in 0..5 {
        learned.apply(&Taught {
            seq: i as u64,
            comment_id: &ids[i],
            author_key: &authors[i],
            body: &bodies[i],
            author_name: "",
            decision: Decision::Spam,
        });
    }
    let input = ScreenInput {
        body: "Pesan dari Kakek Sakti Mandraguna: cuan harian dijamin, hubungi admin sekarang",
        ..Default::default()
    };
    let plain = p.screen(&input);
    let taught = p.screen_with(&input, Some(&learned));
    let site = taught
        .rules
        .iter()
        .find(|r| r.id == saring::policy::SITE_LEARNED)
        .unwrap_or_else(|| panic!("no SITE_LEARNED line: {taught:#?}"));
    assert!(site.score > 2.0, "{site:?}");
    assert!((taught.score - plain.score - site.score).abs() < 1e-6);
    assert!(
        plain
            .rules
            .iter()
            .all(|r| r.id != saring::policy::SITE_LEARNED)
    );
}
