use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn comment(id: &str, parent: Option<&str>, post: &str) -> SourceComment {
    SourceComment {
        line: 1,
        original_id: id.into(),
        article: SourceArticle {
            id: post.into(),
            slug: format!("berita-{post}"),
            link: format!("https://berita.contoh.id/2024/05/berita-{post}/"),
        },
        parent: parent.map(Into::into),
        author_name: "Budi".into(),
        author_email: "Budi@Contoh.id".into(),
        author_url: "javascript:alert(1)".into(),
        ip: "2001:db8::1".into(),
        body_html: "<p>Halo</p>".into(),
        created_at: Some(Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap()),
        state: SourceState::Published,
        not_a_comment: None,
        bad: None,
    }
}

fn options() -> ImportOptions {
    ImportOptions {
        prefix: "wp-".into(),
        ..ImportOptions::default()
    }
}

#[test]
fn thread_keys_follow_the_chosen_rule_and_prefix() {
    let a = comment("1", None, "12").article;
    assert_eq!(
        thread_key(&a, ThreadKeyRule::PostId, "wp-").unwrap(),
        "wp-12"
    );
    assert_eq!(
        thread_key(&a, ThreadKeyRule::Slug, "").unwrap(),
        "berita-12"
    );
    assert_eq!(
        thread_key(&a, ThreadKeyRule::Path, "").unwrap(),
        "2024-05-berita-12"
    );
    let no_slug = SourceArticle {
        slug: String::new(),
        ..a.clone()
    };
    assert_eq!(
        thread_key(&no_slug, ThreadKeyRule::Slug, "").unwrap(),
        "berita-12"
    );
    assert!(thread_key(&SourceArticle::default(), ThreadKeyRule::PostId, "wp-").is_err());
}

#[test]
fn replies_come_after_parents_and_point_at_derived_ids() {
    let plan = plan(
        Source::WordPress,
        "https://berita.contoh.id",
        vec![
            comment("3", Some("2"), "12"),
            comment("2", Some("1"), "12"),
            comment("1", None, "12"),
        ],
        &options(),
    );
    assert!(plan.bad.is_empty(), "{:?}", plan.bad);
    let order: Vec<_> = plan
        .comments
        .iter()
        .map(|c| c.original_id.as_str())
        .collect();
    assert_eq!(order, ["1", "2", "3"]);
    let id = |o| derived_id(Source::WordPress, "https://berita.contoh.id", o);
    assert_eq!(plan.comments[2].submission.parent_id, Some(id("2")));
    let s = &plan.comments[0].submission;
    assert_eq!(s.author_email, "budi@contoh.id");
    assert_eq!(s.author_url, None, "a javascript: URL is dropped");
    assert_eq!(
        s.client.ip, "2001:db8::/64",
        "only the address group is kept"
    );
    assert_eq!(s.body, "Halo");
    assert_eq!(plan.notes.len(), 3, "one dropped URL each");
}

#[test]
fn bad_records_take_their_replies_with_them_and_cycles_are_refused() {
    let mut empty = comment("1", None, "12");
    empty.body_html = "<p> </p>".into();
    let plan = plan(
        Source::WordPress,
        "s",
        vec![
            empty,
            comment("2", Some("1"), "12"),
            comment("3", Some("4"), "12"),
            comment("4", Some("3"), "12"),
            comment("5", Some("9"), "12"),
            comment("6", Some("7"), "12"),
            comment("7", None, "13"),
            comment("8", None, "12"),
        ],
        &options(),
    );
    let bad: Vec<_> = plan.bad.iter().map(|p| p.original_id.as_str()).collect();
    let mut sorted = bad.clone();
    sorted.sort();
    assert_eq!(sorted, ["1", "2", "3", "4", "5", "6"]);
    let good: Vec<_> = plan
        .comments
        .iter()
        .map(|c| c.original_id.as_str())
        .collect();
    assert_eq!(good.len(), 2);
    assert!(refuse_bad(&plan, &options()).is_err());
    let skip = ImportOptions {
        skip_bad: true,
        ..options()
    };
    assert!(refuse_bad(&plan, &skip).is_ok());
}

proptest! {
    #[test]
    fn any_parent_graph_plans_without_panicking_and_parents_come_first(
        parents in proptest::collection::vec(proptest::option::of(0usize..30), 1..30)
    ) {
        let records: Vec<_> = parents
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let parent = p.map(|p| p.to_string());
                comment(&i.to_string(), parent.as_deref(), "1")
            })
            .collect();
        let plan = plan(Source::Disqus, "f", records, &options());
        prop_assert_eq!(plan.comments.len() + plan.bad.len(), parents.len());
        let mut written = std::collections::HashSet::new();
        for c in &plan.comments {
            if let Some(p) = c.submission.parent_id {
                prop_assert!(written.contains(&p), "a reply before its parent");
            }
            written.insert(c.submission.comment_id);
        }
    }
}
