//! A second process opening the same data folder is refused while the first holds it.

use std::io::Read;

use saring::store::StoreError;
use saring::store::sqlite::SqliteStore;

use crate::child::child_command;

fn child_result(dir: &std::path::Path) -> String {
    let mut child = child_command("child::child_open_store", dir)
        .spawn()
        .expect("spawn child");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read child");
    child.wait().expect("wait child");
    // libtest prints "test <name> ... " without a newline before the child's own output.
    out.lines()
        .find_map(|l| l.find("RESULT ").map(|i| &l[i + "RESULT ".len()..]))
        .unwrap_or("no result line")
        .to_string()
}

#[test]
fn second_process_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path()).expect("open");
    let res = child_result(dir.path());
    assert!(res.starts_with("LOCKED"), "second process got: {res}");
    assert!(
        res.contains(&dir.path().display().to_string()),
        "message should name the folder: {res}"
    );

    // In the same process too: the lock is per open, not per process.
    match SqliteStore::open(dir.path()) {
        Err(StoreError::Locked(msg)) => assert!(msg.contains(&dir.path().display().to_string())),
        Err(e) => panic!("second open failed with {e}"),
        Ok(_) => panic!("second open in the same process succeeded"),
    }

    store.close();
    let res = child_result(dir.path());
    assert_eq!(res, "OPENED", "after close the folder must be free");
}
