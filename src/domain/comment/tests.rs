//! Given / when / then tests of the comment decider, and a property test that any sequence of
//! accepted commands folds to a state that `decide` agrees with.

use super::*;
use crate::domain::events::ClientFacts;
use crate::i18n::Lang;
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).expect("valid timestamp")
}

fn submission(thread: &str, parent: Option<Uuid>) -> Submission {
    Submission {
        comment_id: Uuid::from_u128(7),
        thread: thread.into(),
        parent_id: parent,
        author_name: "Sari".into(),
        author_email: "sari@example.id".into(),
        author_url: None,
        body: "Semoga pembangunan jalannya cepat selesai.".into(),
        client: ClientFacts {
            ip: "203.0.113.9".into(),
            user_agent: None,
        },
        captcha_solve_ms: 4_000,
        pow: None,
        known_reader: None,
        lang: Lang::Id,
        submitted_at: t0(),
        erased: false,
    }
}

fn verdict(outcome: Outcome) -> Verdict {
    Verdict {
        outcome,
        score: 0.0,
        rules: vec![],
        policy_version: "v1".into(),
    }
}

fn open_thread() -> SubmitContext {
    SubmitContext {
        thread_closed: false,
        parent: None,
    }
}

fn submit(outcome: Outcome) -> CommentCommand {
    CommentCommand::Submit {
        submission: Box::new(submission("berita-1", None)),
        verdict: Box::new(verdict(outcome)),
        fingerprint: 1,
        context: open_thread(),
    }
}

fn decide_cmd(action: ModeratorAction) -> CommentCommand {
    CommentCommand::Decide {
        action,
        moderator: crate::domain::values::ModeratorName::parse("ayu").unwrap(),
        reason: String::new(),
        now: t0(),
    }
}

fn given(commands: Vec<CommentCommand>) -> CommentState {
    commands
        .into_iter()
        .fold(CommentState::default(), |state, cmd| {
            let events = decide(&state, cmd).expect("given commands are accepted");
            events.iter().fold(state, evolve)
        })
}

#[test]
fn accepted_submission_is_published_with_its_verdict_recorded() {
    let events = decide(&CommentState::default(), submit(Outcome::Accept)).unwrap();
    let types: Vec<_> = events.iter().map(DomainEvent::event_type).collect();
    assert_eq!(
        types,
        ["CommentSubmitted", "CommentScreened", "CommentPublished"]
    );
    let state = events.iter().fold(CommentState::default(), evolve);
    assert!(state.is_visible());
    assert_eq!(state.version(), Some(2));
}

#[test]
fn each_verdict_leads_to_its_own_status() {
    for (outcome, status) in [
        (Outcome::Hold, CommentStatus::Pending),
        (Outcome::Spam, CommentStatus::Spam),
        (Outcome::Reject, CommentStatus::Rejected),
    ] {
        assert_eq!(given(vec![submit(outcome)]).status, Some(status));
    }
}

#[test]
fn a_second_submission_to_the_same_stream_is_refused() {
    let state = given(vec![submit(Outcome::Accept)]);
    assert_eq!(
        decide(&state, submit(Outcome::Accept)),
        Err(CommentError::AlreadySubmitted)
    );
}

#[test]
fn posting_into_a_closed_thread_is_refused() {
    let cmd = CommentCommand::Submit {
        submission: Box::new(submission("berita-1", None)),
        verdict: Box::new(verdict(Outcome::Accept)),
        fingerprint: 1,
        context: SubmitContext {
            thread_closed: true,
            parent: None,
        },
    };
    assert_eq!(
        decide(&CommentState::default(), cmd),
        Err(CommentError::ThreadClosed)
    );
}

#[test]
fn replying_under_a_hidden_or_foreign_comment_is_refused() {
    let parent = Some(Uuid::from_u128(1));
    let with_parent = |p: Option<(String, bool)>| CommentCommand::Submit {
        submission: Box::new(submission("berita-1", parent)),
        verdict: Box::new(verdict(Outcome::Accept)),
        fingerprint: 1,
        context: SubmitContext {
            thread_closed: false,
            parent: p,
        },
    };
    let empty = CommentState::default();
    assert_eq!(
        decide(&empty, with_parent(None)),
        Err(CommentError::ParentNotVisible)
    );
    assert_eq!(
        decide(&empty, with_parent(Some(("berita-1".into(), false)))),
        Err(CommentError::ParentNotVisible)
    );
    assert_eq!(
        decide(&empty, with_parent(Some(("berita-2".into(), true)))),
        Err(CommentError::ParentInOtherThread)
    );
    assert!(decide(&empty, with_parent(Some(("berita-1".into(), true)))).is_ok());
}

#[test]
fn approving_a_deleted_comment_is_refused_but_restore_brings_it_back() {
    let state = given(vec![
        submit(Outcome::Hold),
        decide_cmd(ModeratorAction::Delete),
    ]);
    assert_eq!(
        decide(&state, decide_cmd(ModeratorAction::Approve)),
        Err(CommentError::Deleted)
    );
    let restored = given(vec![
        submit(Outcome::Hold),
        decide_cmd(ModeratorAction::Delete),
        decide_cmd(ModeratorAction::Restore),
    ]);
    assert_eq!(restored.status, Some(CommentStatus::Pending));
}

#[test]
fn a_purged_comment_cannot_be_published_again_but_can_still_be_deleted() {
    let purged = evolve(
        given(vec![submit(Outcome::Spam)]),
        &DomainEvent::BodyPurged { at: t0() },
    );
    for action in [ModeratorAction::Approve, ModeratorAction::NotSpam] {
        assert_eq!(
            decide(&purged, decide_cmd(action)),
            Err(CommentError::BodyPurged),
            "{action:?}"
        );
    }
    assert!(decide(&purged, decide_cmd(ModeratorAction::Delete)).is_ok());
    // Before the purge the same spam comment could be cleared.
    let spam = given(vec![submit(Outcome::Spam)]);
    assert!(decide(&spam, decide_cmd(ModeratorAction::NotSpam)).is_ok());
}

#[test]
fn not_spam_applies_only_to_spam_and_publishes() {
    let published = given(vec![submit(Outcome::Accept)]);
    assert!(matches!(
        decide(&published, decide_cmd(ModeratorAction::NotSpam)),
        Err(CommentError::IllegalTransition { .. })
    ));
    let state = given(vec![
        submit(Outcome::Spam),
        decide_cmd(ModeratorAction::NotSpam),
    ]);
    assert!(state.is_visible());
}

#[test]
fn reports_count_once_per_reader_and_queue_at_the_threshold() {
    let flag = |who: &str| CommentCommand::Flag {
        reporter: who.into(),
        reason: String::new(),
        threshold: 2,
        now: t0(),
    };
    let once = given(vec![submit(Outcome::Accept), flag("a")]);
    assert!(!once.reported);
    assert_eq!(decide(&once, flag("a")), Err(CommentError::AlreadyReported));
    let twice = given(vec![submit(Outcome::Accept), flag("a"), flag("b")]);
    assert!(twice.reported);
    let held = given(vec![submit(Outcome::Hold)]);
    assert_eq!(decide(&held, flag("a")), Err(CommentError::NotReportable));
}

#[test]
fn deciding_an_unknown_comment_is_not_found() {
    assert_eq!(
        decide(
            &CommentState::default(),
            decide_cmd(ModeratorAction::Approve)
        ),
        Err(CommentError::NotFound)
    );
}

fn any_command() -> impl Strategy<Value = CommentCommand> {
    let outcome = prop_oneof![
        Just(Outcome::Accept),
        Just(Outcome::Hold),
        Just(Outcome::Spam),
        Just(Outcome::Reject)
    ];
    let action = prop_oneof![
        Just(ModeratorAction::Approve),
        Just(ModeratorAction::Reject),
        Just(ModeratorAction::Spam),
        Just(ModeratorAction::NotSpam),
        Just(ModeratorAction::Delete),
        Just(ModeratorAction::Restore),
    ];
    prop_oneof![
        outcome.prop_map(submit),
        action.prop_map(decide_cmd),
        (0u8..4, 1u32..4).prop_map(|(who, threshold)| CommentCommand::Flag {
            reporter: format!("r{who}"),
            reason: String::new(),
            threshold,
            now: t0(),
        }),
    ]
}

proptest! {
    /// Folding the events of accepted commands gives a state whose invariants hold and on which
    /// `decide` agrees with what the events say happened.
    #[test]
    fn accepted_commands_fold_to_a_state_decide_agrees_with(cmds in prop::collection::vec(any_command(), 0..40)) {
        let mut state = CommentState::default();
        let mut log: Vec<DomainEvent> = Vec::new();
        for cmd in cmds {
            if let Ok(events) = decide(&state, cmd) {
                prop_assert!(!events.is_empty());
                for e in &events {
                    state = evolve(state, e);
                }
                log.extend(events);
            }
        }
        // Replaying the whole log from scratch gives the same state: no hidden inputs.
        let replayed = log.iter().fold(CommentState::default(), evolve);
        prop_assert_eq!(&replayed, &state);
        prop_assert_eq!(state.events as usize, log.len());
        // decide agrees with the folded state.
        match state.status {
            None => prop_assert!(decide(&state, decide_cmd(ModeratorAction::Delete)).is_err()),
            Some(CommentStatus::Deleted) => {
                prop_assert_eq!(decide(&state, decide_cmd(ModeratorAction::Approve)), Err(CommentError::Deleted));
                prop_assert!(decide(&state, decide_cmd(ModeratorAction::Restore)).is_ok());
            }
            Some(status) => {
                prop_assert_eq!(decide(&state, submit(Outcome::Accept)), Err(CommentError::AlreadySubmitted));
                prop_assert!(decide(&state, decide_cmd(ModeratorAction::Delete)).is_ok());
                let restore = decide(&state, decide_cmd(ModeratorAction::Restore));
                prop_assert_eq!(restore, Err(CommentError::IllegalTransition { action: ModeratorAction::Restore, status }));
                prop_assert_eq!(state.is_visible(), status == CommentStatus::Published);
            }
        }
        prop_assert!(state.reported <= state.is_visible());
    }
}

fn flag_by(who: usize, threshold: u32) -> CommentCommand {
    CommentCommand::Flag {
        reporter: format!("r{who}"),
        reason: "kasar".into(),
        threshold,
        now: t0(),
    }
}

/// A published comment reported by `n` distinct readers, with the events of it.
fn flooded(n: usize, threshold: u32) -> (CommentState, Vec<DomainEvent>) {
    let mut state = given(vec![submit(Outcome::Accept)]);
    let mut log = Vec::new();
    for who in 0..n {
        let events = decide(&state, flag_by(who, threshold)).expect("a new reader's report");
        state = events.iter().fold(state, evolve);
        log.extend(events);
    }
    (state, log)
}

fn flagged(log: &[DomainEvent]) -> usize {
    log.iter()
        .filter(|e| matches!(e, DomainEvent::CommentFlagged { .. }))
        .count()
}

#[test]
fn reports_beyond_the_cap_are_accepted_without_an_event() {
    let (state, log) = flooded(MAX_STORED_REPORTS + 50, 3);
    assert_eq!(flagged(&log), MAX_STORED_REPORTS);
    assert_eq!(state.reporters.len(), MAX_STORED_REPORTS);
    assert!(state.reports_capped());
    // Only the first reaching of the threshold queued it.
    assert_eq!(log.len(), MAX_STORED_REPORTS + 1);
    assert_eq!(decide(&state, flag_by(10_000, 3)), Ok(vec![]));
    let (below, _) = flooded(MAX_STORED_REPORTS - 1, 3);
    assert!(!below.reports_capped());
}

#[test]
fn a_kept_flooded_comment_goes_back_to_the_queue_on_the_next_report_without_storing_it() {
    let (state, _) = flooded(MAX_STORED_REPORTS, 3);
    let events = decide(&state, decide_cmd(ModeratorAction::Approve)).unwrap();
    let kept = events.iter().fold(state, evolve);
    assert!(!kept.reported);
    let events = decide(&kept, flag_by(10_000, 3)).unwrap();
    assert!(matches!(
        events.as_slice(),
        [DomainEvent::CommentReportedQueued { reports, .. }] if *reports as usize == MAX_STORED_REPORTS
    ));
}

#[test]
fn a_threshold_above_the_cap_still_queues_at_the_cap() {
    let (state, log) = flooded(MAX_STORED_REPORTS + 1, 1_000);
    assert!(state.reported);
    assert!(log.iter().any(
        |e| matches!(e, DomainEvent::CommentReportedQueued { reports, .. } if *reports as usize == MAX_STORED_REPORTS)
    ));
}

/// Mostly reports from a pool of readers larger than the cap, with submissions and decisions.
fn flood_command() -> impl Strategy<Value = CommentCommand> {
    let action = prop_oneof![
        Just(ModeratorAction::Approve),
        Just(ModeratorAction::Reject),
        Just(ModeratorAction::Spam),
        Just(ModeratorAction::NotSpam),
        Just(ModeratorAction::Delete),
        Just(ModeratorAction::Restore),
    ];
    prop_oneof![
        1 => Just(submit(Outcome::Accept)),
        1 => action.prop_map(decide_cmd),
        16 => (0usize..(3 * MAX_STORED_REPORTS), 1u32..(2 * MAX_STORED_REPORTS as u32))
            .prop_map(|(who, threshold)| flag_by(who, threshold)),
    ]
}

proptest! {
    /// Whatever readers and moderators do, a comment stores at most the cap of reports, a new
    /// reader's report of a visible comment is never refused, and the stream grows by at most
    /// two events per moderator decision once the cap is reached.
    #[test]
    fn stored_reports_never_exceed_the_cap(cmds in prop::collection::vec(flood_command(), 0..600)) {
        let mut state = CommentState::default();
        let mut log: Vec<DomainEvent> = Vec::new();
        let mut decisions = 0;
        for cmd in cmds {
            let new_reader = match &cmd {
                CommentCommand::Flag { reporter, .. } => {
                    state.is_visible() && !state.reporters.contains(reporter)
                }
                _ => false,
            };
            let is_decision = matches!(cmd, CommentCommand::Decide { .. });
            let result = decide(&state, cmd);
            prop_assert!(!new_reader || result.is_ok(), "a new reader's report was refused: {result:?}");
            if let Ok(events) = result {
                decisions += usize::from(is_decision);
                for e in &events {
                    state = evolve(state, e);
                }
                log.extend(events);
            }
            prop_assert!(state.reporters.len() <= MAX_STORED_REPORTS);
            prop_assert!(flagged(&log) <= MAX_STORED_REPORTS);
            // Submission (3) + stored reports + one queueing per decision and the first one.
            prop_assert!(log.len() <= 3 + MAX_STORED_REPORTS + 1 + 2 * decisions);
        }
        let replayed = log.iter().fold(CommentState::default(), evolve);
        prop_assert_eq!(replayed, state);
    }
}
