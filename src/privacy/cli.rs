//! `saring privacy export EMAIL`, `saring privacy erase EMAIL` and `saring privacy retention`.
//!
//! Both open the store like every other command. The embedded store is locked by the running
//! service, so with it these commands need the service stopped, and they say so; while it
//! runs, use the moderator API (`/api/v1/mod/privacy/...`), which does the same.

use std::sync::Arc;

use crate::config::{ServeArgs, Settings};
use crate::domain::Actor;
use crate::domain::values::Email;
use crate::store::{EventStore, StoreError};

use super::PrivacyError;

/// The `privacy` subcommands.
#[derive(clap::Subcommand)]
pub enum PrivacyCommand {
    /// Print everything stored about one reader (comments with bodies and states, decisions,
    /// reports about them, bans naming them) as JSON.
    Export {
        /// The reader's email (refused, before the store is opened, where a comment's would be).
        // clap prints the refusal with the argument: "invalid value 'sari@' for '<EMAIL>': the
        // email is not of the form local@domain.tld".
        #[arg(value_parser = super::normalise_email)]
        email: Email,
        /// Store settings (data folder, store URL).
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
    /// Make one reader's name, email, website, address and comment bodies unreadable for good
    /// (their key is deleted); their comments show as deleted at the author's request.
    Erase {
        /// The reader's email (refused, before the store is opened, where a comment's would be).
        // clap prints the refusal with the argument: "invalid value 'sari@' for '<EMAIL>': the
        // email is not of the form local@domain.tld".
        #[arg(value_parser = super::normalise_email)]
        email: Email,
        /// The name recorded in the audit trail.
        #[arg(long, default_value = "cli")]
        by: String,
        /// Store settings (data folder, store URL).
        #[command(flatten)]
        serve: Box<ServeArgs>,
    },
    /// Apply the retention settings once, as the service does hourly: purge the bodies of
    /// comments spam or rejected for `[privacy] purge_spam_days` days and drop the address
    /// groups and user agents of comments `[privacy] network_days` days old (the service
    /// stopped).
    Retention {
        /// The time to apply them at (RFC 3339), instead of now.
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
        /// Store settings (data folder, store URL, retention settings).
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
    open_with(&settings).await
}

async fn open_with(settings: &Settings) -> Result<Arc<dyn EventStore>, PrivacyCliError> {
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
        PrivacyCommand::Retention { now: at, serve } => {
            let settings = Settings::resolve(*serve)?;
            let privacy = &settings.privacy;
            if privacy.purge_spam_days == 0 && privacy.network_days == 0 {
                return Ok(
                    "retention: purge_spam_days and network_days are 0 (off); nothing to do".into(),
                );
            }
            let store = open_with(&settings).await?;
            let report = super::retention::apply(store.as_ref(), privacy, at.unwrap_or(now))
                .await
                .map_err(|e| match e {
                    super::retention::RetentionError::Store(e) => PrivacyError::Store(e),
                    super::retention::RetentionError::Keys(e) => PrivacyError::Keys(e),
                })?;
            let mut out = Vec::new();
            if privacy.purge_spam_days > 0 {
                out.push(format!(
                    "retention: purged the bodies of {} comment(s) spam or rejected for {} days or \
                     more; {} body key(s) deleted",
                    report.purged, privacy.purge_spam_days, report.body_keys_deleted
                ));
            }
            if privacy.network_days > 0 {
                out.push(format!(
                    "retention: dropped the address groups and user agents of {} comment(s) from \
                     days {} days old or more; {} day key(s) deleted",
                    report.network_dropped, privacy.network_days, report.day_keys_deleted
                ));
            }
            Ok(out.join("\n"))
        }
    }
}
