//! Compares the look-alike folding of the policy's normalisation (NFKC, then `decancer`) with
//! the Unicode confusables table (UTS #39 skeletons from `unicode-security`): which characters
//! that Unicode says look like ASCII letters or digits we leave unfolded, and which we fold that
//! Unicode does not list. The figures go into docs/policy.md.
//!
//! ```text
//! cargo run --release --example confusables_gap
//! ```

use saring::policy::normalize::normalize;

fn skeleton(s: &str) -> String {
    unicode_security::skeleton(s).collect()
}

fn decancer_alone(c: char) -> String {
    match decancer::cure_char(c, decancer::Options::default()) {
        decancer::Translation::Character(x) => x.to_string(),
        decancer::Translation::String(s) => s.into_owned(),
        decancer::Translation::None => String::new(),
    }
}

fn main() {
    let (mut listed, mut missed, mut different, mut decancer_misses, mut extra) = (0, 0, 0, 0, 0);
    let mut missed_examples = Vec::new();
    let mut missed_by_script: std::collections::BTreeMap<String, usize> = Default::default();
    let mut different_examples = Vec::new();
    let mut decancer_examples = Vec::new();
    let mut extra_examples = Vec::new();
    for u in 0x80u32..=0x3_FFFF {
        let Some(c) = char::from_u32(u) else { continue };
        if c.is_control() || c.is_whitespace() {
            continue;
        }
        let cs = c.to_string();
        let sk = skeleton(&cs);
        let ours = normalize(&cs).text;
        let looks_ascii =
            !sk.is_empty() && sk.chars().all(|x| x.is_ascii_alphanumeric()) && sk != cs;
        if looks_ascii {
            listed += 1;
            if !ours.chars().all(|x| x.is_ascii_alphanumeric()) || ours.is_empty() {
                missed += 1;
                let script = unicode_script::UnicodeScript::script(&c);
                if matches!(
                    script,
                    unicode_script::Script::Latin
                        | unicode_script::Script::Greek
                        | unicode_script::Script::Cyrillic
                        | unicode_script::Script::Common
                ) {
                    println!("missed Latin-like: U+{u:04X} {c} (like {sk:?}) -> {ours:?}");
                }
                *missed_by_script
                    .entry(format!("{:?}", unicode_script::UnicodeScript::script(&c)))
                    .or_default() += 1;
                if missed_examples.len() < 40 {
                    missed_examples.push(format!("U+{u:04X} {c} (like {sk:?}) -> {ours:?}"));
                }
            } else if skeleton(&ours) != sk
                && skeleton(&ours).to_lowercase() != sk.to_lowercase()
                && ours != sk.to_lowercase()
            {
                different += 1;
                if different_examples.len() < 25 {
                    different_examples.push(format!("U+{u:04X} {c} (like {sk:?}) -> {ours:?}"));
                }
            }
            let d = decancer_alone(c);
            if !d.chars().all(|x| x.is_ascii_alphanumeric()) || d.is_empty() {
                decancer_misses += 1;
                if decancer_examples.len() < 25 {
                    decancer_examples.push(format!(
                        "U+{u:04X} {c} (like {sk:?}) -> decancer {d:?}, ours {ours:?}"
                    ));
                }
            }
        } else if c.is_alphabetic()
            && !ours.is_empty()
            && ours.chars().all(|x| x.is_ascii_alphanumeric())
        {
            extra += 1;
            if extra_examples.len() < 25 && u % 7 == 0 {
                extra_examples.push(format!("U+{u:04X} {c} -> {ours:?}"));
            }
        }
    }
    println!(
        "Unicode {} confusables that look like ASCII letters/digits (single characters): {listed}",
        unicode_security::UNICODE_VERSION.0
    );
    println!("  left unfolded by our normalisation: {missed}");
    println!("  folded to a different ASCII letter than the skeleton: {different}");
    println!("  left unfolded by decancer alone (before our NFKC step): {decancer_misses}");
    println!("Letters we fold to ASCII that the confusables table does not list: {extra}");
    println!("Left unfolded, by script: {missed_by_script:?}");
    println!("\nExamples left unfolded:");
    for e in missed_examples {
        println!("  {e}");
    }
    println!("\nExamples folded differently:");
    for e in different_examples {
        println!("  {e}");
    }
    println!("\nExamples decancer alone misses:");
    for e in decancer_examples {
        println!("  {e}");
    }
    println!("\nExamples folded beyond the table:");
    for e in extra_examples {
        println!("  {e}");
    }
}
