//! "Known reader" tokens: what binds an author's trust to more than the email they typed.
//!
//! An author's record (approved comments, no spam) is keyed by their email, which anybody can
//! type. So the record counts as trust only when the reader also shows a token that Saring gave
//! to whoever posted under that email before and was published or approved: an HMAC, under a
//! key derived from the captcha secret, of the normalised email and the token's issue time. The
//! widget keeps it in `localStorage` and sends it with every comment. A trusted email without a
//! valid token (or with one made for another email) is evidence, not trust: the policy scores
//! it (`trusted_unverified`) instead of granting `TRUSTED_AUTHOR` and the "trusted" captcha path.
//!
//! A comment that is held and later approved by a moderator earns the token too: its `201`
//! answer carries a *claim* (an HMAC of the comment id), which the widget trades for the token at
//! `POST /api/v1/reader-token` once the comment is approved.
//!
//! Pure: the clock comes in as `now`. Stateless: replicas sharing the captcha secret accept each
//! other's tokens, and nothing is stored per reader.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// The version byte of tokens this code writes.
const TOKEN_VERSION: u8 = 1;
/// Bytes of MAC kept in a token or claim: 128 bits cannot be guessed online.
const TAG_LEN: usize = 16;
/// Version, issue time (Unix ms, big-endian), tag.
const TOKEN_LEN: usize = 1 + 8 + TAG_LEN;
/// Longest token or claim text looked at; anything longer is refused unread.
pub const MAX_TOKEN_CHARS: usize = 64;
/// How long a token is good for. The widget gets a fresh one with every published comment, so
/// only a reader silent for a year starts over (as a first-time author would, with the record).
pub const TOKEN_DAYS: i64 = 365;

/// What a submission's token says about its email.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReaderCheck {
    /// A token made for this email, unexpired.
    Valid,
    /// No token was sent.
    Missing,
    /// A token that is forged, malformed, expired or made for another email.
    Invalid,
}

/// Issues and checks known-reader tokens and approval claims under one key.
pub struct KnownReaders {
    key: SecretBox<[u8; 32]>,
}

impl fmt::Debug for KnownReaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnownReaders").finish_non_exhaustive()
    }
}

/// The email as the author history keys it: trimmed and lower-cased, so `Ani@X.id` and
/// `ani@x.id` share one token as they share one record.
fn normalised(email: &str) -> String {
    email.trim().to_lowercase()
}

impl KnownReaders {
    /// Tokens under `key` (derived from the captcha secret by the caller, with its own label).
    pub fn new(key: [u8; 32]) -> KnownReaders {
        KnownReaders {
            key: SecretBox::new(Box::new(key)),
        }
    }

    fn mac(&self, label: &[u8], parts: &[&[u8]]) -> [u8; TAG_LEN] {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(self.key.expose_secret())
            .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()));
        mac.update(label);
        mac.update(&[0]);
        for p in parts {
            mac.update(p);
        }
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    fn token_tag(&self, issued_ms: i64, email: &str) -> [u8; TAG_LEN] {
        self.mac(
            b"saring known reader v1",
            &[
                &[TOKEN_VERSION],
                &issued_ms.to_be_bytes(),
                normalised(email).as_bytes(),
            ],
        )
    }

    /// A token for `email`, issued `now` (34 characters of base64url).
    pub fn issue(&self, email: &str, now: DateTime<Utc>) -> String {
        let issued_ms = now.timestamp_millis();
        let mut bytes = Vec::with_capacity(TOKEN_LEN);
        bytes.push(TOKEN_VERSION);
        bytes.extend_from_slice(&issued_ms.to_be_bytes());
        bytes.extend_from_slice(&self.token_tag(issued_ms, email));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Whether `token` was made for `email` and is still good at `now`. The tag is compared in
    /// constant time; a token for another email fails the same way as a forged one.
    pub fn check(&self, token: &str, email: &str, now: DateTime<Utc>) -> ReaderCheck {
        let token = token.trim();
        if token.is_empty() {
            return ReaderCheck::Missing;
        }
        if token.len() > MAX_TOKEN_CHARS {
            return ReaderCheck::Invalid;
        }
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(token) else {
            return ReaderCheck::Invalid;
        };
        if bytes.len() != TOKEN_LEN || bytes[0] != TOKEN_VERSION {
            return ReaderCheck::Invalid;
        }
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&bytes[1..9]);
        let issued_ms = i64::from_be_bytes(issued);
        let good = self.token_tag(issued_ms, email).ct_eq(&bytes[9..]);
        let now_ms = now.timestamp_millis();
        let ttl_ms = TimeDelta::days(TOKEN_DAYS).num_milliseconds();
        // A token from the future (a replica's clock ahead by more than a minute) is refused too.
        let fresh =
            issued_ms <= now_ms.saturating_add(60_000) && now_ms.saturating_sub(issued_ms) < ttl_ms;
        if bool::from(good) && fresh {
            ReaderCheck::Valid
        } else {
            ReaderCheck::Invalid
        }
    }

    /// The claim the poster of comment `id` gets with a `201` that is not published: traded for a
    /// token once a moderator approves the comment (22 characters of base64url).
    pub fn claim(&self, id: Uuid) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(b"saring reader claim v1", &[id.as_bytes()]))
    }

    /// Whether `claim` is the one [`KnownReaders::claim`] gave for `id` (constant time).
    pub fn check_claim(&self, id: Uuid, claim: &str) -> bool {
        let claim = claim.trim();
        if claim.len() > MAX_TOKEN_CHARS {
            return false;
        }
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(claim) else {
            return false;
        };
        bytes.len() == TAG_LEN
            && bool::from(
                self.mac(b"saring reader claim v1", &[id.as_bytes()])
                    .ct_eq(&bytes),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn readers(seed: u8) -> KnownReaders {
        KnownReaders::new([seed; 32])
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_300_000, 0).unwrap()
    }

    #[test]
    fn a_token_is_good_for_its_email_only() {
        let k = readers(1);
        let token = k.issue("ani@contoh.id", t0());
        assert_eq!(token.len(), 34);
        assert_eq!(k.check(&token, "ani@contoh.id", t0()), ReaderCheck::Valid);
        // The record's key is case-insensitive, so is the token.
        assert_eq!(k.check(&token, " Ani@Contoh.ID", t0()), ReaderCheck::Valid);
        assert_eq!(
            k.check(&token, "budi@contoh.id", t0()),
            ReaderCheck::Invalid
        );
        assert_eq!(k.check("", "ani@contoh.id", t0()), ReaderCheck::Missing);
    }

    #[test]
    fn another_secret_expiry_and_tampering_are_refused() {
        let k = readers(1);
        let token = k.issue("ani@contoh.id", t0());
        assert_eq!(
            readers(2).check(&token, "ani@contoh.id", t0()),
            ReaderCheck::Invalid
        );
        let a_year = t0() + TimeDelta::days(TOKEN_DAYS);
        assert_eq!(
            k.check(&token, "ani@contoh.id", a_year),
            ReaderCheck::Invalid
        );
        let before = t0() - TimeDelta::minutes(5);
        assert_eq!(
            k.check(&token, "ani@contoh.id", before),
            ReaderCheck::Invalid
        );
        // Moving the issue time forward breaks the tag.
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[8] ^= 1;
        let moved = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(k.check(&moved, "ani@contoh.id", t0()), ReaderCheck::Invalid);
        assert_eq!(
            k.check(&"A".repeat(65), "ani@contoh.id", t0()),
            ReaderCheck::Invalid
        );
    }

    #[test]
    fn a_claim_is_good_for_its_comment_only() {
        let k = readers(1);
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let claim = k.claim(a);
        assert!(k.check_claim(a, &claim));
        assert!(!k.check_claim(b, &claim));
        assert!(!readers(2).check_claim(a, &claim));
        assert!(!k.check_claim(a, ""));
        // A token is no claim, and a claim no token.
        assert!(!k.check_claim(a, &k.issue("ani@contoh.id", t0())));
        assert_eq!(k.check(&claim, "ani@contoh.id", t0()), ReaderCheck::Invalid);
    }

    proptest! {
        #[test]
        fn checking_never_panics_and_only_issued_tokens_pass(token in ".{0,80}", email in ".{0,40}") {
            let k = readers(3);
            prop_assert_ne!(k.check(&token, &email, t0()), ReaderCheck::Valid);
            let _ = k.check_claim(Uuid::nil(), &token);
            let issued = k.issue(&email, t0());
            prop_assert_eq!(k.check(&issued, &email, t0()), ReaderCheck::Valid);
        }
    }
}
