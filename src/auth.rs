//! Moderator authentication by bearer token.
//!
//! Tokens from the environment are kept only as SHA-256 hashes and compared in constant time;
//! tokens in `saring.toml` are argon2 hashes. Argon2 is slow on purpose, so a token that passed
//! it once is remembered by its SHA-256 in a small bounded cache.

use std::collections::HashMap;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ModeratorEntry;

/// Remembered argon2 successes; a handful of moderators never need more.
const MAX_CACHED: usize = 64;

/// Checks bearer tokens and names the moderator they belong to.
pub struct ModeratorAuth {
    plain: Vec<(String, [u8; 32])>,
    argon: Vec<(String, String)>,
    verified: Mutex<HashMap<[u8; 32], String>>,
}

impl std::fmt::Debug for ModeratorAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModeratorAuth")
            .field("moderators", &self.len())
            .finish_non_exhaustive()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl ModeratorAuth {
    /// Builds the checker; plain tokens are hashed at once and the plain text dropped.
    pub fn new(tokens: &[(String, SecretString)], hashed: &[ModeratorEntry]) -> ModeratorAuth {
        ModeratorAuth {
            plain: tokens
                .iter()
                .map(|(n, t)| (n.clone(), digest(t.expose_secret())))
                .collect(),
            argon: hashed
                .iter()
                .map(|m| (m.name.clone(), m.token_hash.clone()))
                .collect(),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Number of configured moderators.
    pub fn len(&self) -> usize {
        self.plain.len() + self.argon.len()
    }

    /// Whether no moderator is configured (the moderator API then refuses everyone).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The moderator's name if the token is valid.
    pub fn verify(&self, token: &str) -> Option<String> {
        if token.is_empty() || token.len() > 512 {
            return None;
        }
        let d = digest(token);
        // Check every entry so timing does not reveal which one matched.
        let mut found: Option<&str> = None;
        for (name, h) in &self.plain {
            if bool::from(h.ct_eq(&d)) {
                found = Some(name);
            }
        }
        if let Some(name) = found {
            return Some(name.to_string());
        }
        if let Some(name) = self.verified.lock().get(&d) {
            return Some(name.clone());
        }
        for (name, hash) in &self.argon {
            let Ok(parsed) = PasswordHash::new(hash) else {
                continue;
            };
            if Argon2::default()
                .verify_password(token.as_bytes(), &parsed)
                .is_ok()
            {
                let mut cache = self.verified.lock();
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
                cache.insert(d, name.clone());
                return Some(name.clone());
            }
        }
        None
    }
}

/// Hashes a token with argon2id for `saring.toml` (`saring hash-token`).
pub fn hash_token(token: &str) -> Result<String, argon2::password_hash::Error> {
    use argon2::PasswordHasher;
    use argon2::password_hash::SaltString;
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
    Ok(Argon2::default()
        .hash_password(token.as_bytes(), &salt)?
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_argon2_tokens_name_their_moderator() {
        let hash = hash_token("rahasia-budi-123").unwrap();
        let auth = ModeratorAuth::new(
            &[("ayu".into(), SecretString::from("rahasia-ayu-123"))],
            &[ModeratorEntry {
                name: "budi".into(),
                token_hash: hash,
            }],
        );
        assert_eq!(auth.verify("rahasia-ayu-123").as_deref(), Some("ayu"));
        assert_eq!(auth.verify("rahasia-budi-123").as_deref(), Some("budi"));
        assert_eq!(
            auth.verify("rahasia-budi-123").as_deref(),
            Some("budi"),
            "cached"
        );
        assert_eq!(auth.verify("salah"), None);
        assert_eq!(auth.verify(""), None);
        assert!(!format!("{auth:?}").contains("rahasia"));
    }
}
