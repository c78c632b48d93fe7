//! Signed webhooks: a message when a comment enters the pending or the reported queue and
//! when a spam wave starts, so a newsroom's Slack, Telegram bot or tool can call a moderator.
//!
//! Each message is a JSON body signed with HMAC-SHA256 over `timestamp + "." + body`
//! (`X-Saring-Timestamp`, `X-Saring-Signature: sha256=<hex>`), sent by one background task with
//! retries (1, 2, 4, 8 s; five attempts in all). During a flood, past `digest_after` messages in
//! one `digest_seconds` window, the rest of the window's entries are counted into one
//! `digest` message sent when the window ends, so a spam wave does not become a wave of
//! messages. Each replica sends what it itself stored (no duplicates across replicas); the
//! messages are best effort: a full channel (10,000 waiting) or a receiver down for all five
//! attempts drops them, counted in `saring_webhooks_dropped_total`, while the comments stay in
//! their queues.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

/// Messages waiting at most; beyond, new ones are dropped (and counted).
const CHANNEL: usize = 10_000;
/// Attempts per message.
const ATTEMPTS: u32 = 5;
/// Ids listed in a digest at most.
const DIGEST_IDS: usize = 20;

/// The `[webhooks]` table.
#[derive(Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST; none: no webhooks. `SARING_WEBHOOK_URL` overrides.
    pub url: Option<String>,
    /// The HMAC key. `SARING_WEBHOOK_SECRET` overrides.
    #[serde(deserialize_with = "secret_from_text")]
    pub secret: Option<SecretString>,
    /// Messages per window before the rest become one digest (default 10).
    pub digest_after: Option<u32>,
    /// The window, in seconds (default 60).
    pub digest_seconds: Option<u64>,
}

fn secret_from_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(SecretString::from))
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("digest_after", &self.digest_after)
            .field("digest_seconds", &self.digest_seconds)
            .finish()
    }
}

impl WebhookConfig {
    /// The table with `SARING_WEBHOOK_URL` and `SARING_WEBHOOK_SECRET` applied.
    pub fn with_env(mut self) -> WebhookConfig {
        if let Ok(url) = std::env::var("SARING_WEBHOOK_URL")
            && !url.trim().is_empty()
        {
            self.url = Some(url.trim().to_string());
        }
        if let Ok(secret) = std::env::var("SARING_WEBHOOK_SECRET")
            && !secret.is_empty()
        {
            self.secret = Some(SecretString::from(secret));
        }
        self
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    /// A comment entered the pending queue.
    #[serde(rename = "comment.pending")]
    Pending,
    /// A comment entered the reported queue.
    #[serde(rename = "comment.reported")]
    Reported,
    /// A spam wave started (see [`crate::projections::waves`]).
    #[serde(rename = "wave.started")]
    WaveStarted,
}

/// What a `wave.started` message says of the wave.
#[derive(Debug, Clone, Serialize)]
pub struct WaveFacts {
    /// The wave's id.
    pub id: Uuid,
    /// What its comments share: `{kind: text|domain|brand, value}`.
    pub shapes: Vec<crate::projections::waves::Shape>,
    /// Its comments so far.
    pub comments: usize,
    /// Its threads so far.
    pub threads: usize,
    /// Its first comment's time.
    pub first_seen: DateTime<Utc>,
}

/// One message's facts (no email, no address: the receiver may be a chat room).
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The comment.
    pub comment_id: Uuid,
    /// Its thread.
    pub thread: String,
    /// The author's display name.
    pub author_name: String,
    /// The first 200 characters of the text.
    pub excerpt: String,
    /// The console path of its card.
    pub console_path: String,
    /// When.
    pub at: DateTime<Utc>,
    /// For `wave.started`: the wave (the comment fields are the comment that started it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave: Option<WaveFacts>,
}

impl Notice {
    /// A notice about a comment.
    pub fn new(kind: Kind, id: Uuid, thread: &str, author_name: &str, body: &str) -> Notice {
        Notice {
            kind,
            comment_id: id,
            thread: thread.to_string(),
            author_name: author_name.to_string(),
            excerpt: body.chars().take(200).collect(),
            console_path: format!("/admin/comments/{id}"),
            at: Utc::now(),
            wave: None,
        }
    }

    /// A notice that `wave` started with the comment `s`.
    pub fn wave_started(
        wave: &crate::projections::waves::Wave,
        s: &crate::domain::Submission,
    ) -> Notice {
        Notice {
            console_path: format!("/admin/waves#wave-{}", wave.id),
            wave: Some(WaveFacts {
                id: wave.id,
                shapes: wave.shapes.clone(),
                comments: wave.comments,
                threads: wave.threads.len(),
                first_seen: wave.first_seen,
            }),
            ..Notice::new(
                Kind::WaveStarted,
                s.comment_id,
                &s.thread,
                &s.author_name,
                &s.body,
            )
        }
    }
}

/// The sending side kept by the service.
#[derive(Debug, Clone)]
pub struct Webhooks {
    tx: Option<tokio::sync::mpsc::Sender<Notice>>,
}

impl Webhooks {
    /// No webhooks.
    pub fn off() -> Webhooks {
        Webhooks { tx: None }
    }

    /// Starts the sender task for `config` (none without a URL); the task ends when the
    /// service, which holds the sending side, is dropped.
    pub fn start(config: &WebhookConfig) -> Webhooks {
        let Some(url) = config.url.clone() else {
            return Webhooks::off();
        };
        let (tx, rx) = tokio::sync::mpsc::channel(CHANNEL);
        let sender = Sender {
            url,
            secret: config.secret.clone(),
            digest_after: config.digest_after.unwrap_or(10).max(1),
            window: Duration::from_secs(config.digest_seconds.unwrap_or(60).max(1)),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        };
        tokio::spawn(sender.run(rx));
        Webhooks { tx: Some(tx) }
    }

    /// Queues a message; never waits.
    pub fn notify(&self, notice: Notice) {
        if let Some(tx) = &self.tx
            && tx.try_send(notice).is_err()
        {
            metrics::counter!("saring_webhooks_dropped_total").increment(1);
        }
    }
}

/// The signature header's value for `body` sent at `timestamp`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

struct Sender {
    url: String,
    secret: Option<SecretString>,
    digest_after: u32,
    window: Duration,
    client: reqwest::Client,
}

/// The entries of a window beyond `digest_after`.
#[derive(Default)]
struct Digest {
    pending: u32,
    reported: u32,
    waves: u32,
    ids: Vec<Uuid>,
    since: Option<DateTime<Utc>>,
}

impl Sender {
    async fn run(self, mut rx: tokio::sync::mpsc::Receiver<Notice>) {
        // A window opens with its first message, so a quiet service has none running.
        let mut window_end: Option<tokio::time::Instant> = None;
        let mut sent_in_window = 0u32;
        let mut digest = Digest::default();
        loop {
            let next = match window_end {
                Some(end) => tokio::time::timeout_at(end, rx.recv()).await,
                None => Ok(rx.recv().await),
            };
            match next {
                Ok(Some(notice)) => {
                    if window_end.is_none() {
                        window_end = Some(tokio::time::Instant::now() + self.window);
                        sent_in_window = 0;
                    }
                    if sent_in_window < self.digest_after {
                        sent_in_window += 1;
                        self.deliver(&serde_json::to_value(&notice).unwrap_or_default())
                            .await;
                    } else {
                        match notice.kind {
                            Kind::Pending => digest.pending += 1,
                            Kind::Reported => digest.reported += 1,
                            Kind::WaveStarted => digest.waves += 1,
                        }
                        if digest.ids.len() < DIGEST_IDS {
                            digest.ids.push(notice.comment_id);
                        }
                        digest.since.get_or_insert(notice.at);
                    }
                }
                Ok(None) => return,
                Err(_) => {
                    if digest.pending + digest.reported + digest.waves > 0 {
                        let body = serde_json::json!({
                            "type": "digest",
                            "pending": digest.pending,
                            "reported": digest.reported,
                            "waves": digest.waves,
                            "comment_ids": digest.ids,
                            "since": digest.since,
                            "until": Utc::now(),
                            "console_path": "/admin",
                        });
                        self.deliver(&body).await;
                    }
                    digest = Digest::default();
                    window_end = None;
                }
            }
        }
    }

    /// Posts one message, retrying with a doubling pause; gives up after [`ATTEMPTS`].
    async fn deliver(&self, body: &serde_json::Value) {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let mut pause = Duration::from_secs(1);
        for attempt in 1..=ATTEMPTS {
            let timestamp = Utc::now().timestamp();
            let mut request = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header("x-saring-timestamp", timestamp.to_string())
                .body(bytes.clone());
            if let Some(secret) = &self.secret {
                request = request.header(
                    "x-saring-signature",
                    signature(secret.expose_secret().as_bytes(), timestamp, &bytes),
                );
            }
            match request.send().await {
                Ok(resp) if resp.status().is_success() => {
                    metrics::counter!("saring_webhooks_sent_total").increment(1);
                    return;
                }
                Ok(resp) => {
                    tracing::warn!(status = %resp.status(), attempt, "webhook refused");
                }
                Err(e) => tracing::warn!(error = %e, attempt, "webhook not delivered"),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        metrics::counter!("saring_webhooks_dropped_total").increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_the_timestamp_and_the_body() {
        let a = signature(b"k", 1, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64, "{a}");
        assert_ne!(a, signature(b"k", 2, b"{}"));
        assert_ne!(a, signature(b"k", 1, b"{ }"));
        assert_ne!(a, signature(b"j", 1, b"{}"));
    }
}
