//! Hot reload: a broken edit keeps the old policy; good edits are activated and announced.

use std::time::{Duration, Instant};

use saring::policy::PolicyHandle;

use crate::{copy_dir, root};

fn temp_policies() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&root().join("policies"), dir.path());
    dir
}

#[test]
fn a_broken_edit_keeps_the_old_policy_and_reports_the_error() {
    let dir = temp_policies();
    let handle = PolicyHandle::load(dir.path().to_path_buf()).expect("loads");
    let before = handle.current().version().to_string();
    let rx = handle.subscribe();
    let file = dir.path().join("default.toml");
    let good = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, good.replace("[thresholds]", "[thresholds\n")).expect("write");
    let err = handle.reload().expect_err("broken");
    assert!(err.to_string().contains("default.toml:"), "{err}");
    assert_eq!(handle.current().version(), before);
    assert!(
        handle
            .last_error()
            .is_some_and(|e| e.contains("default.toml:"))
    );
    assert!(!rx.has_changed().expect("sender alive"));

    std::fs::write(&file, good.replace("hold = 5.0", "hold = 6.0")).expect("write");
    let new = handle.reload().expect("fixed");
    assert_ne!(new.version(), before);
    assert_eq!(handle.current().version(), new.version());
    assert!(handle.last_error().is_none());
    assert!(rx.has_changed().expect("sender alive"));
    // Reloading unchanged files announces nothing new.
    let mut rx = handle.subscribe();
    rx.borrow_and_update();
    handle.reload().expect("same");
    assert!(!rx.has_changed().expect("sender alive"));
}

#[test]
fn editing_a_list_file_is_picked_up_by_the_watcher() {
    let dir = temp_policies();
    let handle = PolicyHandle::load(dir.path().to_path_buf()).expect("loads");
    let _guard = handle.watch_files().expect("watch");
    let before = handle.current().version().to_string();
    let list = dir.path().join("lists/abuse-strong.txt");
    let mut text = std::fs::read_to_string(&list).expect("read");
    text.push_str("brengsek\n");
    std::fs::write(&list, text).expect("write");
    let deadline = Instant::now() + Duration::from_secs(20);
    while handle.current().version() == before {
        assert!(
            Instant::now() < deadline,
            "watcher did not reload within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let v = handle.current().screen(&saring::policy::ScreenInput {
        body: "dasar brengsek",
        ..Default::default()
    });
    assert!(v.rules.iter().any(|r| r.id == "ABUSE_WORD"));
}
