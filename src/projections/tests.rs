//! Projection tests: events in, views out.

use super::*;
use crate::domain::comment::{self, CommentCommand, CommentState, SubmitContext};
use crate::domain::events::{ClientFacts, Submission};
use crate::domain::verdict::{Outcome, Verdict};
use crate::domain::{ModeratorAction, comment_stream};
use crate::i18n::Lang;

/// Feeds commands through the real decider and the projections, like the service does.
struct World {
    proj: Projections,
    states: HashMap<Uuid, CommentState>,
    position: u64,
}

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("valid")
}

impl World {
    fn new() -> Self {
        World {
            proj: Projections::default(),
            states: HashMap::new(),
            position: 0,
        }
    }

    fn run(&mut self, id: Uuid, cmd: CommentCommand) {
        let state = self.states.remove(&id).unwrap_or_default();
        let events = comment::decide(&state, cmd).expect("accepted");
        let stream = comment_stream(id);
        let mut state = state;
        for e in &events {
            self.position += 1;
            let revision = state.events;
            state = comment::evolve(state, e);
            self.proj.apply(
                EventPosition {
                    stream: &stream,
                    revision,
                    position: self.position,
                },
                e,
            );
        }
        self.states.insert(id, state);
    }

    fn post(&mut self, n: u128, thread: &str, parent: Option<u128>, outcome: Outcome) -> Uuid {
        let id = Uuid::from_u128(n);
        let submission = Submission {
            comment_id: id,
            thread: thread.into(),
            parent_id: parent.map(Uuid::from_u128),
            author_name: format!("Pembaca {n}"),
            author_email: format!("p{n}@contoh.id"),
            author_url: None,
            body: format!("Komentar nomor {n} <b>tebal</b>"),
            client: ClientFacts {
                ip: "198.51.100.7".into(),
                user_agent: None,
            },
            captcha_solve_ms: 3000,
            pow: None,
            known_reader: None,
            lang: Lang::Id,
            submitted_at: t(n as i64),
            erased: false,
        };
        let context = SubmitContext {
            thread_closed: self.proj.is_closed(thread),
            parent: parent.and_then(|p| self.proj.parent_facts(Uuid::from_u128(p))),
        };
        let verdict = Verdict {
            outcome,
            score: 1.5,
            rules: vec![],
            policy_version: "v".into(),
        };
        self.run(
            id,
            CommentCommand::Submit {
                submission: Box::new(submission),
                verdict: Box::new(verdict),
                fingerprint: 1,
                context,
            },
        );
        id
    }

    fn decide(&mut self, id: Uuid, action: ModeratorAction) {
        self.run(
            id,
            CommentCommand::Decide {
                action,
                moderator: crate::domain::values::ModeratorName::parse("ayu").unwrap(),
                reason: String::new(),
                now: t(999),
            },
        );
    }
}

impl World {
    /// Folds one event that no command decides (the retention pass appends it).
    fn append(&mut self, id: Uuid, event: DomainEvent) {
        let state = self.states.remove(&id).unwrap_or_default();
        self.position += 1;
        self.proj.apply(
            EventPosition {
                stream: &comment_stream(id),
                revision: state.events,
                position: self.position,
            },
            &event,
        );
        self.states.insert(id, comment::evolve(state, &event));
    }
}

#[test]
fn dropped_network_facts_leave_the_record_and_the_address_counts_for_good() {
    let mut w = World::new();
    let a = w.post(1, "berita", None, Outcome::Accept);
    let b = w.post(2, "berita", None, Outcome::Accept);
    let address = |w: &World| {
        w.proj
            .authors
            .counts(authors::CountKind::Address, "198.51.100.7")
    };
    assert_eq!(address(&w).approved, 2);
    w.append(a, DomainEvent::NetworkFactsDropped { at: t(50) });
    assert_eq!(w.proj.comments[&a].ip_key, "");
    assert_eq!(
        w.proj.comments[&b].ip_key, "198.51.100.7",
        "the other keeps it"
    );
    assert_eq!(
        address(&w).approved,
        1,
        "only the other counts for the address"
    );
    let email = w
        .proj
        .authors
        .counts(authors::CountKind::Email, "p1@contoh.id");
    assert_eq!(email.approved, 1, "the email still counts");
    let version = w.proj.comments[&a].version;
    assert_eq!(
        Some(version),
        w.states[&a].version(),
        "moderators' version follows"
    );
    assert_eq!(w.states[&a].submission.as_ref().unwrap().client.ip, "");

    // A later decision moves the email's counts, not the address's; dropping twice is nothing.
    w.decide(a, ModeratorAction::Spam);
    assert_eq!(
        address(&w),
        authors::Counts {
            approved: 1,
            spam: 0
        }
    );
    let email = w
        .proj
        .authors
        .counts(authors::CountKind::Email, "p1@contoh.id");
    assert_eq!((email.approved, email.spam), (0, 1));
    w.append(a, DomainEvent::NetworkFactsDropped { at: t(60) });
    assert_eq!(address(&w).approved, 1);
}

#[test]
fn only_published_comments_are_in_the_thread_and_escaped() {
    let mut w = World::new();
    let a = w.post(1, "berita", None, Outcome::Accept);
    w.post(2, "berita", None, Outcome::Hold);
    w.post(3, "berita", None, Outcome::Spam);
    let page = w.proj.thread_page("berita", Order::Oldest, 1, 20, 3);
    assert_eq!(page.total, 1);
    assert_eq!(page.comments.len(), 1);
    assert_eq!(page.comments[0].id, a);
    assert!(page.comments[0].body_html.contains("&lt;b&gt;"));
    let json = serde_json::to_string(&page).unwrap();
    assert!(
        !json.contains("contoh.id") && !json.contains("198.51"),
        "private fields leaked: {json}"
    );
}

#[test]
fn moderator_decisions_move_comments_between_queues_and_thread() {
    let mut w = World::new();
    let held = w.post(1, "berita", None, Outcome::Hold);
    assert_eq!(w.proj.queue_page(QueueName::Pending, None, 10).0.len(), 1);
    w.decide(held, ModeratorAction::Approve);
    assert!(w.proj.queues.pending.is_empty());
    assert_eq!(w.proj.visible_count("berita"), 1);
    w.decide(held, ModeratorAction::Spam);
    assert_eq!(w.proj.visible_count("berita"), 0);
    assert_eq!(w.proj.queue_page(QueueName::Spam, None, 10).0[0].id, held);
    let h = w
        .proj
        .authors
        .history("p1@contoh.id", "198.51.100.7", None, 0, "x", t(1000));
    assert_eq!((h.author_approved, h.author_spam, h.ip_spam), (0, 1, 1));
}

#[test]
fn replies_nest_to_the_depth_limit_and_deeper_ones_hang_on_the_deepest_allowed_ancestor() {
    let mut w = World::new();
    w.post(1, "t", None, Outcome::Accept);
    w.post(2, "t", Some(1), Outcome::Accept);
    w.post(3, "t", Some(2), Outcome::Accept);
    w.post(4, "t", Some(3), Outcome::Accept);
    let page = w.proj.thread_page("t", Order::Oldest, 1, 20, 2);
    let root = &page.comments[0];
    assert_eq!(root.replies.len(), 1);
    let depth1 = &root.replies[0];
    let ids: Vec<_> = depth1.replies.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [Uuid::from_u128(3), Uuid::from_u128(4)],
        "comment 4 moves up to depth 2"
    );
    assert_eq!(page.total, 4);
}

#[test]
fn paging_by_top_level_in_both_orders() {
    let mut w = World::new();
    for n in 1..=5 {
        w.post(n, "t", None, Outcome::Accept);
    }
    let first = w.proj.thread_page("t", Order::Oldest, 1, 2, 3);
    assert_eq!(
        first
            .comments
            .iter()
            .map(|c| c.id.as_u128())
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(first.next, Some(2));
    let last = w.proj.thread_page("t", Order::Oldest, 3, 2, 3);
    assert_eq!(last.comments.len(), 1);
    assert_eq!(last.next, None);
    let newest = w.proj.thread_page("t", Order::Newest, 1, 2, 3);
    assert_eq!(newest.comments[0].id.as_u128(), 5);
}

#[test]
fn reports_reach_the_reported_queue_and_a_decision_clears_it() {
    let mut w = World::new();
    let id = w.post(1, "t", None, Outcome::Accept);
    for who in ["a", "b"] {
        w.run(
            id,
            CommentCommand::Flag {
                reporter: who.into(),
                reason: String::new(),
                threshold: 2,
                now: t(5),
            },
        );
    }
    assert_eq!(w.proj.queue_page(QueueName::Reported, None, 10).0.len(), 1);
    w.decide(id, ModeratorAction::Approve);
    assert!(w.proj.queues.reported.is_empty());
    assert_eq!(w.proj.visible_count("t"), 1);
}

#[test]
fn replaying_the_same_events_twice_changes_nothing_and_snapshots_round_trip() {
    let mut w = World::new();
    w.post(1, "t", None, Outcome::Accept);
    w.post(2, "t", Some(1), Outcome::Hold);
    let json = serde_json::to_string(&w.proj).unwrap();
    let back: Projections = serde_json::from_str(&json).unwrap();
    assert_eq!(
        back.thread_page("t", Order::Oldest, 1, 20, 3),
        w.proj.thread_page("t", Order::Oldest, 1, 20, 3)
    );
    assert_eq!(back.queues, w.proj.queues);
}

#[test]
fn duplicates_across_threads_are_counted_within_the_window() {
    let mut h = AuthorHistory::default();
    h.record_submission(42, "a", "x@y.id", t(0));
    h.record_submission(42, "b", "z@y.id", t(10));
    h.record_submission(42, "c", "x@y.id", t(20));
    let now = h.history("x@y.id", "", None, 42, "d", t(30));
    assert_eq!(now.same_body_threads, 3);
    assert_eq!(now.same_body_same_author, 2);
    let later = h.history("x@y.id", "", None, 42, "d", t(3 * 86_400));
    assert_eq!(later.same_body_threads, 0);
    // Snapshots keep the sightings.
    let back: AuthorHistory = serde_json::from_str(&serde_json::to_string(&h).unwrap()).unwrap();
    assert_eq!(back, h);
}

#[test]
fn cursor_paging_of_queues_is_oldest_first_without_overlap() {
    let mut w = World::new();
    for n in 1..=5 {
        w.post(n, "t", None, Outcome::Hold);
    }
    let (first, next) = w.proj.queue_page(QueueName::Pending, None, 2);
    let (second, _) = w.proj.queue_page(QueueName::Pending, next, 2);
    let ids: Vec<u128> = first
        .iter()
        .chain(second.iter())
        .map(|r| r.id.as_u128())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4]);
}

mod restore_props {
    use proptest::prelude::*;

    use super::*;
    use crate::projections::restore::{StoredParts, StoredSighting};

    /// What the projection database keeps of `p`, with the sightings every screening recorded.
    fn stored(p: &Projections) -> StoredParts {
        let mut comments: Vec<CommentRecord> = p.comments.values().cloned().collect();
        comments.sort_by_key(|c| c.seq);
        StoredParts {
            position: p.position,
            events_applied: p.events_applied,
            sightings: comments
                .iter()
                .map(|c| StoredSighting {
                    fingerprint: 1,
                    thread: c.thread.clone(),
                    author: c.author_email.clone(),
                    at: c.created_at,
                })
                .collect(),
            comments,
            threads: p
                .threads
                .iter()
                .map(|(k, t)| (k.clone(), t.closed, t.generation))
                .collect(),
            reported: p.queues.reported.clone(),
            policy_version: p.policy_version.clone(),
            policy_history: p.policy_history.clone(),
            learned: p.learned.clone(),
        }
    }

    const ACTIONS: [ModeratorAction; 6] = [
        ModeratorAction::Approve,
        ModeratorAction::Reject,
        ModeratorAction::Spam,
        ModeratorAction::NotSpam,
        ModeratorAction::Delete,
        ModeratorAction::Restore,
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever mix of posts and moderator decisions the log holds, the projections
        /// restored from the stored rows equal the fold: threads, queues and author counts are
        /// derived correctly from the comments' statuses.
        #[test]
        fn restoring_the_stored_rows_gives_the_fold(
            posts in proptest::collection::vec((0usize..3, 0usize..3), 1..12),
            decisions in proptest::collection::vec((0usize..12, 0usize..6), 0..16),
        ) {
            let mut w = World::new();
            let outcomes = [Outcome::Accept, Outcome::Hold, Outcome::Spam];
            let mut ids = Vec::new();
            for (n, (thread, outcome)) in posts.iter().enumerate() {
                ids.push(w.post(n as u128 + 1, &format!("t{thread}"), None, outcomes[*outcome]));
            }
            for (which, action) in decisions {
                let id = ids[which % ids.len()];
                let state = w.states.get(&id).cloned().unwrap_or_default();
                let cmd = CommentCommand::Decide {
                    action: ACTIONS[action],
                    moderator: crate::domain::values::ModeratorName::parse("ayu").unwrap(),
                    reason: String::new(),
                    now: t(999),
                };
                // Illegal transitions are refused by the decider and leave the log unchanged.
                if comment::decide(&state, cmd.clone()).is_ok() {
                    w.run(id, cmd);
                }
            }
            let restored = Projections::restore(stored(&w.proj));
            prop_assert_eq!(restored.differences(&w.proj, 5), Vec::<String>::new());
        }
    }
}
