//! Moderator accounts of the console: names with argon2 password hashes from `saring.toml`.
//!
//! Argon2 is slow on purpose, so it runs on the blocking pool (never on an async worker) and at
//! most [`MAX_VERIFY_AT_ONCE`] at a time: a flood of logins waits for a slot instead of taking
//! every blocking thread. An unknown name is checked against a dummy hash, so the answer's
//! timing does not tell which names exist.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

use super::config::AccountEntry;
use crate::domain::values::ModeratorName;

/// Argon2 verifications running at once.
pub const MAX_VERIFY_AT_ONCE: usize = 2;
/// The longest password accepted (longer ones are refused before hashing).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The shortest password `saring moderator add` accepts.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Why a password could not be checked or hashed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The blocking task did not complete.
    #[error("the password check did not complete: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// Argon2 refused the input.
    #[error("hashing the password: {0}")]
    Hash(argon2::password_hash::Error),
}

/// The console's accounts.
pub struct Accounts {
    entries: Arc<Vec<AccountEntry>>,
    slots: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("accounts", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// A hash of a random password, checked for unknown names so they cost the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = hex::encode(rand::random::<[u8; 16]>());
        hash_password(&random).unwrap_or_default()
    })
}

fn verify_blocking(entries: &[AccountEntry], name: &str, password: &str) -> Option<ModeratorName> {
    let entry = entries.iter().find(|a| a.name == name);
    let hash: &str = match entry {
        Some(a) => &a.password_hash,
        None => dummy_hash(),
    };
    let ok = PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    });
    // `ConsoleConfig::validate` refused any account whose name is not a `ModeratorName`.
    entry
        .filter(|_| ok)
        .and_then(|a| ModeratorName::parse(&a.name).ok())
}

impl Accounts {
    /// The accounts from the settings.
    pub fn new(entries: Vec<AccountEntry>) -> Accounts {
        Accounts {
            entries: Arc::new(entries),
            slots: tokio::sync::Semaphore::new(MAX_VERIFY_AT_ONCE),
        }
    }

    /// Whether no account is configured (the login form then says so).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The account's name when the password is right; argon2 runs on the blocking pool.
    pub async fn verify(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<ModeratorName>, AccountError> {
        if password.len() > MAX_PASSWORD_BYTES || name.len() > 256 {
            return Ok(None);
        }
        // The semaphore is never closed, so acquiring only waits.
        let _slot = self.slots.acquire().await;
        let (entries, name, password) =
            (self.entries.clone(), name.to_string(), password.to_string());
        Ok(
            tokio::task::spawn_blocking(move || verify_blocking(&entries, &name, &password))
                .await?,
        )
    }
}

/// Hashes a password with argon2id for `saring.toml` (`saring moderator add NAME`).
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(AccountError::Hash)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AccountError::Hash)
}

/// The `saring.toml` lines of a new account, as `saring moderator add NAME` prints them.
pub fn account_lines(name: &str, hash: &str) -> String {
    // TOML basic strings: the name is escaped by the toml crate so any name stays one value.
    let name = toml::Value::String(name.to_string()).to_string();
    let hash = toml::Value::String(hash.to_string()).to_string();
    format!("[[console.accounts]]\nname = {name}\npassword_hash = {hash}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_right_password_names_the_account_and_nothing_else_does() {
        let hash = hash_password("kata-sandi-ani-panjang").unwrap();
        let accounts = Accounts::new(vec![AccountEntry {
            name: "ani".into(),
            password_hash: hash,
        }]);
        assert_eq!(
            accounts
                .verify("ani", "kata-sandi-ani-panjang")
                .await
                .unwrap(),
            Some(ModeratorName::parse("ani").unwrap())
        );
        assert_eq!(accounts.verify("ani", "salah").await.unwrap(), None);
        assert_eq!(
            accounts
                .verify("budi", "kata-sandi-ani-panjang")
                .await
                .unwrap(),
            None
        );
    }

    #[test]
    fn printed_lines_load_as_an_account() {
        let lines = account_lines("ani \"x\"", "$argon2id$v=19$m=19456,t=2,p=1$abc$def");
        #[derive(serde::Deserialize)]
        struct File {
            console: super::super::config::ConsoleConfig,
        }
        let f: File = toml::from_str(&lines).unwrap();
        assert_eq!(f.console.accounts[0].name, "ani \"x\"");
    }
}
