//! Loading an arbitrary policy file must return a policy or an error with a position, never
//! panic. Run from the repository root: `cargo +nightly fuzz run policy_load`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use saring::policy::{Policy, PolicyError, ScreenInput};

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    if std::fs::write(dir.path().join("default.toml"), data).is_err() {
        return;
    }
    // A list file the fuzzed policy may refer to.
    let _ = std::fs::write(dir.path().join("l.txt"), "slot\n# c\n10.0.0.0/8\nwa.me\n");
    match Policy::load(dir.path()) {
        Ok(p) => {
            let _ = p.screen(&ScreenInput { body: "slot gacor wa.me/1 𝐆𝐀𝐑𝐔𝐃𝐀𝟖𝟖", ..Default::default() });
            let _ = p.summary();
        }
        Err(PolicyError::Invalid { line, column, .. }) => assert!(line >= 1 && column >= 1),
        Err(_) => {}
    }
});
