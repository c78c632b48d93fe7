//! Verifying any token, answer and thread must never panic and never accept a token we did not
//! sign. Run from the repository root: `RUSTC_BOOTSTRAP=1 cargo fuzz run captcha_token`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use saring::captcha::{Captcha, CaptchaConfig};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let token = parts.next().unwrap_or_default();
    let answer = parts.next().unwrap_or_default();
    let thread = parts.next().unwrap_or_default();
    let captcha = Captcha::new(
        b"fuzz-secret-0123456789abcdef0123".to_vec(),
        CaptchaConfig::default(),
        saring::http::messages::sum_words,
    );
    let verdict = captcha.verify(token, answer, thread, chrono::Utc::now());
    // A token the fuzzer wrote itself cannot carry our MAC.
    assert!(verdict.is_err(), "a forged token was accepted: {token:?}");
});
