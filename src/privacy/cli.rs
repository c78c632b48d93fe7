//! `saring privacy export EMAIL` and `saring privacy erase EMAIL`.
//!
//! Both open the store like every other command. The embedded store is locked by the running
//! service, so with it these commands need the service stopped, and they say so; while it
//! runs, use the moderator API (`/api/v1/mod/privacy/...`), which does the same.

use std::sync::Arc;

use crate::config::{ServeArgs, Settings};
use crate::domain::Actor;
use crate::store::{EventStore, StoreError};

use super::PrivacyError;

/// The `privacy` subcommands.
#[derive(clap::Subcommand)]
pub enum PrivacyCommand {
    /// Print everything stored about one reader (comments with bodies and states, decisions,
    /// reports about them, bans naming them) as JSON.
    Export {
        /// The reader's email.
        email: String,
        /// Store settings (data folder, store URL).
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
    /// Make one reader's name, email, website, address and comment bodies unreadable for good
    /// (their key is deleted); their comments show as deleted at the author's request.
    Erase {
        /// The reader's email.
        email: String,
        /// The name recorded in the audit trail.
        #[arg(long, default_value = "cli")]
        by: String,
        /// Store settings (data folder, store URL).
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
}

/// Why a `privacy` command failed.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyCliError {
    /// The settings could not be read.
    #[error(transparent)]
    Settings(#[from] crate::config::ConfigError),
    /// The service holds the data folder.
    #[error(
        "the data folder {0} is in use by the running service: stop it first, or use the \
         moderator API while it runs (GET /api/v1/mod/privacy/export?email=..., \
         POST /api/v1/mod/privacy/erase)"
    )]
    ServiceRunning(String),
    /// The request failed.
    #[error(transparent)]
    Privacy(#[from] PrivacyError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(StoreError),
}

async fn open(serve: ServeArgs) -> Result<Arc<dyn EventStore>, PrivacyCliError> {
    let settings = Settings::resolve(serve)?;
    crate::store::open_store(settings.store.as_deref(), &settings.data_dir)
        .await
        .map_err(|e| match e {
            StoreError::Locked(dir) => PrivacyCliError::ServiceRunning(dir),
            other => PrivacyCliError::Store(other),
        })
}

/// Runs a `privacy` command, returning what to print.
pub async fn run(command: PrivacyCommand) -> Result<String, PrivacyCliError> {
    let now = chrono::Utc::now();
    match command {
        PrivacyCommand::Export { email, serve } => {
            let store = open(*serve).await?;
            let by = Actor::Moderator("cli".into());
            let export = super::export(store.as_ref(), &email, Some(&by), now).await?;
            Ok(serde_json::to_string_pretty(&export).unwrap_or_default())
        }
        PrivacyCommand::Erase { email, by, serve } => {
            let store = open(*serve).await?;
            let erased = super::erase(store.as_ref(), &email, &Actor::Moderator(by), now).await?;
            Ok(format!(
                "erased: {} comment(s) now show as deleted at the author's request; key deleted: {}",
                erased.comments,
                if erased.key_deleted {
                    "yes"
                } else {
                    "no (none was left)"
                }
            ))
        }
    }
}
