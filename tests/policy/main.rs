//! Integration tests of the policy engine through its public API: the shipped policies, the
//! labelled cases, the YouTube dataset bars, the CLI bodies, hot reload, and arbitrary input.

mod cases;
mod cli;
mod dataset;
mod model;
mod props;
mod reload;
mod tricky_pieces;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use saring::policy::Policy;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped default policy, loaded once.
pub fn default_policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| match Policy::load(&root().join("policies")) {
        Ok(p) => p,
        Err(e) => panic!("default policy must load: {e}"),
    })
}

/// Copies a folder tree (policies) into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn policy_and_handle_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Policy>();
    assert_send_sync::<saring::policy::PolicyHandle>();
    assert_send_sync::<saring::policy::Verdict>();
}
