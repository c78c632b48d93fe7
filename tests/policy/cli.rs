//! `policy check` and `policy test` as the CLI calls them.

use saring::policy::cli;

use crate::root;

#[test]
fn check_prints_counts_by_kind() {
    let mut out = Vec::new();
    cli::check(&root().join("policies"), &mut out).expect("default policy is valid");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.contains("policy default ok"), "{text}");
    assert!(text.contains("words"), "{text}");
    assert!(text.contains("regex"), "{text}");
    assert!(text.contains("meta"), "{text}");
}

#[test]
fn check_reports_file_line_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::copy_dir(&root().join("policies"), dir.path());
    let file = dir.path().join("default.toml");
    let text = std::fs::read_to_string(&file).expect("read");
    let broken = text.replacen(
        "kind = \"regex\"\npattern = '",
        "kind = \"regex\"\npattern = '(",
        1,
    );
    std::fs::write(&file, &broken).expect("write");
    let line = broken[..broken.find("pattern = '(").expect("edited")]
        .lines()
        .count()
        + 1;
    let err = cli::check(dir.path(), &mut Vec::new()).expect_err("broken policy");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}:{line}:11: ", file.display())),
        "{msg}"
    );
}

#[test]
fn test_reads_youtube_style_csv_and_writes_verdicts_and_a_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("comments.csv");
    std::fs::write(
        &csv,
        "COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS\n\
         a,Rina,,\"Check out my channel, subscribe!\",1\n\
         b,Budi,,\"Polisi tangkap bandar judi online, mantap\",0\n\
         c,Ana,,\"Multi-line\ncomment &amp; entity\",0\n",
    )
    .expect("write");
    let (mut out, mut report) = (Vec::new(), Vec::new());
    cli::test(&root().join("policies"), &csv, &mut out, &mut report).expect("test runs");
    let out = String::from_utf8(out).expect("utf-8");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["verdict"], "spam");
    assert_eq!(lines[1]["verdict"], "accept");
    assert!(lines[0]["rules"].as_array().is_some_and(|r| !r.is_empty()));
    assert!(lines[0]["score"].as_f64().is_some());
    let report = String::from_utf8(report).expect("utf-8");
    assert!(report.contains("SUMMARY for threshold 5.0"), "{report}");
    assert!(
        report.contains("Precision: 1.000  Recall: 1.000"),
        "{report}"
    );
    assert!(report.contains("OVERALL%"), "{report}");
    assert!(report.contains("SELF_PROMO_EN"), "{report}");
}

#[test]
fn test_reads_json_lines_without_labels_and_writes_no_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("c.jsonl");
    std::fs::write(&f, "{\"body\":\"halo\",\"author_name\":\"A\",\"author_email\":\"a@b.c\",\"author_url\":\"https://wa.me/1\"}\n").expect("write");
    let (mut out, mut report) = (Vec::new(), Vec::new());
    cli::test(&root().join("policies"), &f, &mut out, &mut report).expect("runs");
    assert_eq!(String::from_utf8(out).expect("utf-8").lines().count(), 1);
    assert!(report.is_empty());
}

#[test]
fn test_reports_bad_input_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("c.jsonl");
    std::fs::write(&f, "{\"body\":\"ok\"}\n{\"body\": oops}\n").expect("write");
    let err = cli::test(
        &root().join("policies"),
        &f,
        &mut Vec::new(),
        &mut Vec::new(),
    )
    .expect_err("bad json");
    assert!(
        err.to_string().starts_with(&format!("{}:2:", f.display())),
        "{err}"
    );
}

#[test]
fn backtest_reports_changed_outcomes_next_to_moderator_decisions() {
    use saring::policy::{Outcome, ScreenInput};
    let p = crate::default_policy();
    let cases = vec![
        // Was accepted; the candidate policy calls it spam; a moderator had marked it spam.
        cli::BacktestCase {
            comment_id: "c1",
            input: ScreenInput {
                body: "Slot gacor hari ini, daftar di link alternatif! wa.me/628123456789",
                ..Default::default()
            },
            recorded: Outcome::Accept,
            moderator: Some(Outcome::Spam),
        },
        // Unchanged and approved.
        cli::BacktestCase {
            comment_id: "c2",
            input: ScreenInput {
                body: "Setuju, jalannya rusak.",
                ..Default::default()
            },
            recorded: Outcome::Accept,
            moderator: Some(Outcome::Accept),
        },
        cli::BacktestCase {
            comment_id: "c3",
            input: ScreenInput {
                body: "Terima kasih",
                ..Default::default()
            },
            recorded: Outcome::Hold,
            moderator: None,
        },
    ];
    let mut out = Vec::new();
    let s = cli::backtest(p, cases, &mut out).expect("backtest");
    assert_eq!((s.total, s.changed, s.moderated), (3, 2, 2));
    assert_eq!((s.recorded_agrees, s.candidate_agrees), (1, 2));
    assert_eq!(s.transitions.get("accept -> spam"), Some(&1));
    let out = String::from_utf8(out).expect("utf-8");
    assert_eq!(out.lines().count(), 2);
    assert!(out.lines().next().is_some_and(
        |l| l.contains("\"comment_id\":\"c1\"") && l.contains("\"moderator\":\"spam\"")
    ));
    let mut table = Vec::new();
    cli::write_backtest_summary(&s, &mut table).expect("summary");
    let table = String::from_utf8(table).expect("utf-8");
    assert!(
        table.contains("2 would change") && table.contains("candidate policy 100.00%"),
        "{table}"
    );
}
