//! The arithmetic captcha: a fill-in-the-blank sum such as `[ ] − 3 = 3`, as on the seed page,
//! carried in a signed, stateless token.
//!
//! Nothing is stored when a challenge is issued. The token holds everything needed to check the
//! answer later (a random nonce, issue and expiry times, a keyed hash of the answer and, when the
//! challenge was fetched for one article, a hash of its thread key), authenticated with
//! HMAC-SHA256 under a secret only the server knows. Several replicas sharing the secret can
//! verify each other's tokens. A token is good for one comment: the comment id is derived from
//! its nonce ([`comment_id_from_nonce`]) and the store refuses a second stream with that id.
//!
//! The clock is never read here: issue and verify take `now` as data, so tests and replicas agree.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::{ExposeSecret, SecretBox};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::i18n::Lang;
use crate::pow::{self, Difficulty, PowChallenge, PowSettings};
use crate::store::StoreError;

type HmacSha256 = Hmac<Sha256>;

/// Name of the secret key file inside the data folder.
pub const KEY_FILE: &str = "captcha.key";
/// Version byte at the start of every token; bump it when the layout changes (2: the two
/// proof-of-work difficulties were added).
const VERSION: u8 = 2;
const NONCE_LEN: usize = 16;
const ANSWER_TAG_LEN: usize = 16;
const THREAD_TAG_LEN: usize = 16;
const MAC_LEN: usize = 32;
/// version | nonce | issued ms | expires ms | answer tag | thread flag | thread tag |
/// difficulty with the sum | difficulty without it
const BODY_LEN: usize = 1 + NONCE_LEN + 8 + 8 + ANSWER_TAG_LEN + 1 + THREAD_TAG_LEN + 2;
const TOKEN_LEN: usize = BODY_LEN + MAC_LEN;
/// Tokens are 134 characters; anything much longer is refused before decoding.
const MAX_TOKEN_CHARS: usize = 256;
/// Answers are at most a few digits; longer input is refused before looking at it.
const MAX_ANSWER_BYTES: usize = 64;
/// Operands above this would make products that no reader wants to compute (and could overflow).
const OPERAND_CEILING: u32 = 1000;

/// Namespace of the v5 hash of the nonce that [`comment_id_from_nonce`] takes its low bits from.
const COMMENT_NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_3c2e_9a47_4d5e_b0c8_51e2_7f0a_93d4);

/// An arithmetic operation a challenge may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// `+`
    Add,
    /// `−` (U+2212); the result is never negative.
    Sub,
    /// `×` (U+00D7)
    Mul,
}

impl Op {
    /// The symbol shown in the question.
    pub fn symbol(self) -> char {
        match self {
            Op::Add => '+',
            Op::Sub => '\u{2212}',
            Op::Mul => '\u{00D7}',
        }
    }

    fn word(self, words: &SumWords) -> &'static str {
        match self {
            Op::Add => words.plus,
            Op::Sub => words.minus,
            Op::Mul => words.times,
        }
    }
}

/// The words a challenge's spoken prompt is made of, in one language. The captcha knows the
/// sentence's shape ("What minus 3 equals 3? Type the answer in digits."); the words are in the
/// product's message catalogue (`http::messages::sum_words`), given to [`Captcha::new`], so
/// every Indonesian and English text stays in one place without the captcha depending on the
/// HTTP layer.
#[derive(Debug)]
pub struct SumWords {
    /// Stands for the blank ("berapa", "what").
    pub what: &'static str,
    /// Between the sum and its result ("sama dengan", "equals").
    pub equals: &'static str,
    /// `+` read aloud.
    pub plus: &'static str,
    /// `−` read aloud.
    pub minus: &'static str,
    /// `×` read aloud.
    pub times: &'static str,
    /// The sentence after the question, saying how to answer.
    pub instruction: &'static str,
}

/// Picks a language's [`SumWords`]: the catalogue's `http::messages::sum_words`.
pub type PromptWords = fn(Lang) -> &'static SumWords;

/// How challenges are made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptchaConfig {
    /// Smallest operand (default 1).
    pub min_operand: u32,
    /// Largest operand (default 10, as small sums are what a reader solves in a glance; capped
    /// at 1000).
    pub max_operand: u32,
    /// How long a challenge stays valid (default 10 minutes: long enough to write a comment,
    /// short enough that harvested tokens go stale).
    pub ttl: Duration,
    /// Operations to choose from (default all three; an empty list means all three).
    pub operations: Vec<Op>,
    /// The proof of work asked with each token and how it follows risk.
    pub pow: PowSettings,
}

impl Default for CaptchaConfig {
    fn default() -> Self {
        CaptchaConfig {
            min_operand: 1,
            max_operand: 10,
            ttl: Duration::from_secs(600),
            operations: vec![Op::Add, Op::Sub, Op::Mul],
            pow: PowSettings::default(),
        }
    }
}

impl CaptchaConfig {
    /// The same settings made safe to use: operands ordered and capped, at least one operation,
    /// a TTL of at least one second and at most a day.
    fn normalised(mut self) -> Self {
        self.min_operand = self.min_operand.min(OPERAND_CEILING);
        self.max_operand = self.max_operand.min(OPERAND_CEILING);
        if self.min_operand > self.max_operand {
            std::mem::swap(&mut self.min_operand, &mut self.max_operand);
        }
        if self.operations.is_empty() {
            self.operations = CaptchaConfig::default().operations;
        }
        self.ttl = self
            .ttl
            .clamp(Duration::from_secs(1), Duration::from_secs(86_400));
        self
    }
}

/// A challenge as sent to the reader (`GET /api/v1/captcha`).
///
/// Its OpenAPI schema (`CaptchaChallenge`) is derived from this type, so the document cannot
/// drift from what is sent.
#[derive(Serialize, Clone, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = CaptchaChallenge)]
pub struct Challenge {
    /// The signed token to send back with the answer.
    pub token: String,
    /// The sum with its blank, e.g. `[ ] − 3 = 3`.
    pub question: String,
    /// The same question as a sentence for screen readers, in the requested language.
    pub prompt: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// When the token expires (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<Utc>,
    /// The proof of work to send back as `captcha_pow` (bound to the token by its MAC).
    pub pow: PowChallenge,
}

/// A correctly answered challenge: what the submission records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Solved {
    /// The token's nonce, from which the comment id derives.
    pub nonce: [u8; NONCE_LEN],
    /// When the challenge was issued.
    pub issued_at: DateTime<Utc>,
    /// Milliseconds from issue to answer (0 if the issuing replica's clock ran ahead); very short
    /// times are a bot signal for the policy engine.
    pub solve_time_ms: u64,
    /// How the captcha was passed, as far as the token tells: [`Passed::NeedsTrust`] leaves the
    /// decision to the caller, who knows the author.
    pub passed: Passed,
    /// Difficulty the token asked with the sum.
    pub difficulty: u8,
    /// Leading zero bits of the stamp sent (0 without one).
    pub pow_bits: u8,
}

/// How a submission got past the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Passed {
    /// The sum was answered right (with the stamp when one was required).
    Sum,
    /// No answer, and a stamp at the token's "skip" difficulty.
    Skip,
    /// No answer and no skip-level stamp: good only for a trusted author. Nothing was burnt.
    NeedsTrust,
}

/// One attempt at a captcha, as a submission carries it.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    /// The token from the challenge.
    pub token: &'a str,
    /// The reader's answer to the sum (may be empty).
    pub answer: &'a str,
    /// The proof-of-work stamp (may be empty).
    pub stamp: &'a str,
    /// The thread posted to.
    pub thread: &'a str,
    /// Whether the channel must carry the stamp with the sum: the JSON API does, the plain
    /// no-JavaScript form does not (the policy scores that path instead).
    pub stamp_required: bool,
}

impl Solved {
    /// The id of the comment this solved challenge may create.
    pub fn comment_id(&self) -> Uuid {
        comment_id_from_nonce(&self.nonce, self.issued_at)
    }
}

/// Why a captcha was refused, or why the secret could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CaptchaError {
    /// The token is not one of ours: wrong length, encoding or version.
    #[error("the captcha token is malformed")]
    Malformed,
    /// The token was altered or signed with another secret.
    #[error("the captcha token's signature is invalid")]
    BadSignature,
    /// The token is older than its time to live.
    #[error("the captcha has expired")]
    Expired,
    /// The answer is not the missing number (or not a number at all).
    #[error("the captcha answer is wrong")]
    WrongAnswer,
    /// The token was issued for another thread than the one posted to.
    #[error("the captcha was issued for another thread")]
    WrongThread,
    /// The token was already answered wrongly and cannot be tried again.
    #[error("the captcha was already answered wrongly; fetch a new one")]
    Burned,
    /// The token asks for a proof-of-work stamp and none came with the answer.
    #[error("the captcha's proof of work is missing")]
    PowMissing,
    /// The stamp does not reach the token's difficulty (or is not a number).
    #[error("the captcha's proof of work is wrong")]
    PowWrong,
    /// Neither an answer nor a stamp good for skipping the sum, from an author who is not trusted.
    #[error("the captcha was not answered")]
    Unanswered,
    /// The key file could not be read or written.
    #[error("captcha key file {path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The key file exists but does not hold 32 bytes in hex.
    #[error("captcha key file {path} does not hold a 32-byte key in hex")]
    BadKeyFile {
        /// The file concerned.
        path: PathBuf,
    },
}

impl CaptchaError {
    /// A short stable name, for error codes and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            CaptchaError::Malformed => "captcha_malformed",
            CaptchaError::BadSignature => "captcha_bad_signature",
            CaptchaError::Expired => "captcha_expired",
            CaptchaError::WrongAnswer => "captcha_wrong_answer",
            CaptchaError::WrongThread => "captcha_wrong_thread",
            CaptchaError::Burned => "captcha_burned",
            CaptchaError::PowMissing => "captcha_pow_missing",
            CaptchaError::PowWrong => "captcha_pow_wrong",
            CaptchaError::Unanswered => "captcha_unanswered",
            CaptchaError::Io { .. } => "captcha_key_io",
            CaptchaError::BadKeyFile { .. } => "captcha_bad_key_file",
        }
    }
}

/// Issues and verifies challenges under one secret.
pub struct Captcha {
    /// Keys for the answer hash and the token MAC, derived from the secret so that neither use can
    /// be mistaken for the other.
    answer_key: SecretBox<[u8; 32]>,
    token_key: SecretBox<[u8; 32]>,
    /// Known-reader tokens, under a third key derived from the same secret (so every replica
    /// that shares the captcha secret accepts them).
    readers: crate::known_reader::KnownReaders,
    config: CaptchaConfig,
    /// The spoken prompt's words, per language.
    words: PromptWords,
    /// Burnt tokens shared with the other replicas, when the store offers such a table.
    shared: Option<Arc<dyn SharedBurnedTokens>>,
}

impl fmt::Debug for Captcha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Captcha")
            .field("config", &self.config)
            .field("shared_burns", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

/// A sum with one blank, before it is written down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sum {
    a: u32,
    op: Op,
    b: u32,
    c: u32,
    blank: Blank,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Blank {
    First,
    Second,
    Result,
}

impl Sum {
    fn generate(config: &CaptchaConfig, rng: &mut impl Rng) -> Sum {
        let ops = &config.operations;
        let op = ops
            .get(rng.random_range(0..ops.len().max(1)))
            .copied()
            .unwrap_or(Op::Add);
        let range = config.min_operand..=config.max_operand;
        let mut a = rng.random_range(range.clone());
        let mut b = rng.random_range(range);
        if op == Op::Sub && a < b {
            std::mem::swap(&mut a, &mut b);
        }
        // Operands are capped at 1000, so none of these overflow or go below zero.
        let c = match op {
            Op::Add => a + b,
            Op::Sub => a - b,
            Op::Mul => a * b,
        };
        let mut blank = match rng.random_range(0..3u8) {
            0 => Blank::First,
            1 => Blank::Second,
            _ => Blank::Result,
        };
        // `[ ] × 0 = 0` has no single answer.
        if op == Op::Mul
            && ((blank == Blank::First && b == 0) || (blank == Blank::Second && a == 0))
        {
            blank = Blank::Result;
        }
        Sum { a, op, b, c, blank }
    }

    fn answer(&self) -> u32 {
        match self.blank {
            Blank::First => self.a,
            Blank::Second => self.b,
            Blank::Result => self.c,
        }
    }

    fn question(&self) -> String {
        let show = |n: u32, here: Blank| {
            if self.blank == here {
                "[ ]".to_string()
            } else {
                n.to_string()
            }
        };
        format!(
            "{} {} {} = {}",
            show(self.a, Blank::First),
            self.op.symbol(),
            show(self.b, Blank::Second),
            show(self.c, Blank::Result)
        )
    }

    /// "What minus 3 equals 3?" reads naturally aloud, unlike a bracket pair.
    fn prompt(&self, words: &SumWords) -> String {
        let what = words.what;
        let show = |n: u32, here: Blank| {
            if self.blank == here {
                what.to_string()
            } else {
                n.to_string()
            }
        };
        let sentence = format!(
            "{} {} {} {} {}?",
            show(self.a, Blank::First),
            self.op.word(words),
            show(self.b, Blank::Second),
            words.equals,
            show(self.c, Blank::Result)
        );
        let mut chars = sentence.chars();
        let capitalised: String = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
        format!("{capitalised} {}", words.instruction)
    }
}

impl Captcha {
    /// A captcha signing with `secret` (use at least 32 random bytes, e.g. from
    /// [`Captcha::load_or_create_secret`]; every replica must share it). The configuration is
    /// normalised: operands ordered and capped at 1000, at least one operation. `words` gives
    /// the spoken prompt's words in each language (`http::messages::sum_words`).
    pub fn new(secret: Vec<u8>, config: CaptchaConfig, words: PromptWords) -> Captcha {
        let secret = SecretBox::<[u8]>::from(secret);
        let derive = |label: &[u8]| {
            let mut mac = hmac_with(secret.expose_secret());
            mac.update(label);
            SecretBox::new(Box::new(<[u8; 32]>::from(mac.finalize().into_bytes())))
        };
        Captcha {
            answer_key: derive(b"saring captcha answer v1"),
            token_key: derive(b"saring captcha token v1"),
            readers: crate::known_reader::KnownReaders::new(
                *derive(b"saring known reader v1").expose_secret(),
            ),
            config: config.normalised(),
            words,
            shared: None,
        }
    }

    /// The same captcha, also remembering burnt tokens in `shared` (every replica's common
    /// table) when given; `None` keeps the per-process [`BurnedTokens`] only.
    pub fn with_shared_burns(mut self, shared: Option<Arc<dyn SharedBurnedTokens>>) -> Captcha {
        self.shared = shared;
        self
    }

    /// The known-reader tokens signed under this captcha's secret.
    pub fn known_readers(&self) -> &crate::known_reader::KnownReaders {
        &self.readers
    }

    /// The configuration in use (after normalisation).
    pub fn config(&self) -> &CaptchaConfig {
        &self.config
    }

    /// Reads the secret from `<data_dir>/captcha.key`, creating it (32 random bytes written as
    /// hex, mode 0600) on first use, so tokens survive restarts. Safe against two processes
    /// starting at once: the file appears whole or not at all, and the loser reads the winner's.
    pub fn load_or_create_secret(data_dir: &Path) -> Result<Vec<u8>, CaptchaError> {
        let path = data_dir.join(KEY_FILE);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CaptchaError::Io { path, source }
        };
        match fs::read_to_string(&path) {
            Ok(text) => return decode_key(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
        fs::create_dir_all(data_dir).map_err(io(data_dir))?;
        let mut key = [0u8; 32];
        rand::rng().fill(&mut key);
        let mut suffix = [0u8; 8];
        rand::rng().fill(&mut suffix);
        let tmp = data_dir.join(format!("{KEY_FILE}.{}.tmp", hex::encode(suffix)));
        let written = write_private(&tmp, format!("{}\n", hex::encode(key)).as_bytes());
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io(&tmp)(e));
        }
        // A hard link never replaces an existing file, so of two processes racing here exactly
        // one key wins and both use it.
        let linked = fs::hard_link(&tmp, &path);
        let result = match linked {
            Ok(()) => Ok(key.to_vec()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = fs::read_to_string(&path).map_err(io(&path))?;
                decode_key(&text, &path)
            }
            // Some filesystems have no hard links; a rename is atomic too, only not exclusive.
            Err(_) => match fs::rename(&tmp, &path) {
                Ok(()) => Ok(key.to_vec()),
                Err(e) => Err(io(&path)(e)),
            },
        };
        let _ = fs::remove_file(&tmp);
        if let Ok(dir) = fs::File::open(data_dir) {
            let _ = dir.sync_all();
        }
        result
    }

    /// Makes a new challenge valid from `now` for the configured TTL, bound to `thread` when one
    /// is given. `rng` supplies the sum and the nonce; use `rand::rng()` in production.
    /// The proof of work asked is the configured base (see [`Captcha::issue_at`] for a
    /// difficulty raised by risk).
    pub fn issue(
        &self,
        now: DateTime<Utc>,
        thread: Option<&str>,
        lang: Lang,
        rng: &mut impl Rng,
    ) -> Challenge {
        let calm = self.config.pow.difficulty_for(&pow::RiskSignals::default());
        self.issue_sum(now, thread, lang, calm, rng).0
    }

    /// [`Captcha::issue`] asking for the proof of work `difficulty` (from
    /// [`PowSettings::difficulty_for`]).
    pub fn issue_at(
        &self,
        now: DateTime<Utc>,
        thread: Option<&str>,
        lang: Lang,
        difficulty: Difficulty,
        rng: &mut impl Rng,
    ) -> Challenge {
        self.issue_sum(now, thread, lang, difficulty, rng).0
    }

    fn issue_sum(
        &self,
        now: DateTime<Utc>,
        thread: Option<&str>,
        lang: Lang,
        difficulty: Difficulty,
        rng: &mut impl Rng,
    ) -> (Challenge, Sum) {
        let difficulty = Difficulty {
            sum: difficulty.sum.min(pow::MAX_DIFFICULTY),
            skip: difficulty.skip.clamp(1, pow::MAX_DIFFICULTY),
        };
        let sum = Sum::generate(&self.config, rng);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce);
        let ttl = TimeDelta::from_std(self.config.ttl).unwrap_or(TimeDelta::minutes(10));
        let expires_at = now.checked_add_signed(ttl).unwrap_or(now);
        let mut token = Vec::with_capacity(TOKEN_LEN);
        token.push(VERSION);
        token.extend_from_slice(&nonce);
        token.extend_from_slice(&now.timestamp_millis().to_be_bytes());
        token.extend_from_slice(&expires_at.timestamp_millis().to_be_bytes());
        token.extend_from_slice(&self.answer_tag(&nonce, sum.answer()));
        match thread {
            Some(t) => {
                token.push(1);
                token.extend_from_slice(&thread_tag(t));
            }
            None => {
                token.push(0);
                token.extend_from_slice(&[0u8; THREAD_TAG_LEN]);
            }
        }
        token.push(difficulty.sum);
        token.push(difficulty.skip);
        let mac = self.token_mac(&token);
        token.extend_from_slice(&mac);
        let challenge = Challenge {
            token: URL_SAFE_NO_PAD.encode(&token),
            question: sum.question(),
            prompt: sum.prompt((self.words)(lang)),
            expires_in: self.config.ttl.as_secs(),
            expires_at,
            pow: PowChallenge {
                algorithm: "SHA-256",
                salt: pow_salt(&nonce),
                difficulty: difficulty.sum,
                skip_difficulty: difficulty.skip,
            },
        };
        (challenge, sum)
    }

    /// Checks a reader's `answer` to the challenge in `token`, posted to `thread` at `now`.
    ///
    /// The token must be well formed, signed with our secret, unexpired, and (if it named a
    /// thread) issued for this one; the answer must be the missing number, written in ASCII or
    /// fullwidth digits with any surrounding whitespace. Never panics, whatever the input.
    pub fn verify(
        &self,
        token: &str,
        answer: &str,
        thread: &str,
        now: DateTime<Utc>,
    ) -> Result<Solved, CaptchaError> {
        self.verify_attempt(
            &Attempt {
                token,
                answer,
                stamp: "",
                thread,
                stamp_required: false,
            },
            now,
        )
    }

    /// Checks an [`Attempt`] (answer, stamp or both) without burning anything; see
    /// [`Captcha::verify_and_burn`] for the order of the checks.
    pub fn verify_attempt(
        &self,
        attempt: &Attempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<Solved, CaptchaError> {
        let fields = self.open(attempt.token, now)?;
        self.check(&fields, attempt, now)
    }

    /// Checks an [`Attempt`]: the token (signature, expiry, thread), then the stamp (one hash,
    /// before the answer is looked at), then the answer. A wrong answer (or wrong thread) burns
    /// the token: its nonce goes
    /// into `burned` (and into the replicas' shared table, see [`Captcha::with_shared_burns`])
    /// until the token expires, and any later attempt with it is [`CaptchaError::Burned`].
    /// Without this a bot could try the hundred or so possible answers with one token.
    ///
    /// If the shared table cannot be reached, the process-local list still applies and the
    /// error is logged: the submission needs the database for its append anyway, so an outage
    /// ends in `503` there, and a guesser meanwhile gets at most one try per replica.
    pub async fn verify_and_burn(
        &self,
        attempt: &Attempt<'_>,
        now: DateTime<Utc>,
        burned: &BurnedTokens,
    ) -> Result<Solved, CaptchaError> {
        let fields = self.open(attempt.token, now)?;
        let now_ms = now.timestamp_millis();
        if burned.contains(&fields.nonce, now_ms) {
            return Err(CaptchaError::Burned);
        }
        let result = self.check(&fields, attempt, now);
        let wrong = matches!(
            result,
            Err(CaptchaError::WrongAnswer | CaptchaError::WrongThread)
        );
        if wrong {
            burned.burn(fields.nonce, fields.expires_ms, now_ms);
        }
        let Some(shared) = &self.shared else {
            return result;
        };
        // One round trip either way: a wrong answer records the burn (and learns whether another
        // replica had burnt it already), a right one asks whether another replica burnt it.
        let burnt_elsewhere = if wrong {
            shared.burn(&fields.nonce, fields.expires_ms, now_ms).await
        } else if result.is_ok() {
            shared.is_burned(&fields.nonce, now_ms).await
        } else {
            return result;
        };
        match burnt_elsewhere {
            Ok(true) => Err(CaptchaError::Burned),
            Ok(false) => result,
            Err(e) => {
                tracing::warn!(error = %e, "shared burnt-token table unreachable; using this replica's list");
                result
            }
        }
    }

    /// Decodes and authenticates a token and checks its expiry.
    fn open(&self, token: &str, now: DateTime<Utc>) -> Result<Fields, CaptchaError> {
        let bytes = decode_token(token)?;
        let (body, mac) = bytes.split_at(BODY_LEN);
        if !bool::from(self.token_mac(body).ct_eq(mac)) {
            return Err(CaptchaError::BadSignature);
        }
        let fields = Fields::parse(body).ok_or(CaptchaError::Malformed)?;
        if now.timestamp_millis() >= fields.expires_ms {
            return Err(CaptchaError::Expired);
        }
        Ok(fields)
    }

    /// Checks the thread, the stamp and the answer against an authenticated, unexpired token.
    fn check(
        &self,
        fields: &Fields,
        attempt: &Attempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<Solved, CaptchaError> {
        let issued_at =
            DateTime::from_timestamp_millis(fields.issued_ms).ok_or(CaptchaError::Malformed)?;
        if fields.has_thread && !bool::from(thread_tag(attempt.thread).ct_eq(&fields.thread_tag)) {
            return Err(CaptchaError::WrongThread);
        }
        let stamp = attempt.stamp.trim();
        let bits = if stamp.is_empty() {
            0
        } else {
            let bits =
                pow::stamp_bits(&pow_salt(&fields.nonce), stamp).ok_or(CaptchaError::PowWrong)?;
            // A stamp that was sent must be good: a short one is a script guessing.
            if bits < u32::from(fields.difficulty.max(1)) {
                return Err(CaptchaError::PowWrong);
            }
            u8::try_from(bits).unwrap_or(u8::MAX)
        };
        let answered = !attempt.answer.trim().is_empty();
        let passed = if !answered {
            if bits >= fields.skip_difficulty {
                Passed::Skip
            } else {
                Passed::NeedsTrust
            }
        } else {
            if attempt.stamp_required && fields.difficulty > 0 && stamp.is_empty() {
                return Err(CaptchaError::PowMissing);
            }
            let given = parse_answer(attempt.answer).ok_or(CaptchaError::WrongAnswer)?;
            if !bool::from(
                self.answer_tag(&fields.nonce, given)
                    .ct_eq(&fields.answer_tag),
            ) {
                return Err(CaptchaError::WrongAnswer);
            }
            Passed::Sum
        };
        let solve_time_ms =
            u64::try_from(now.timestamp_millis().saturating_sub(fields.issued_ms)).unwrap_or(0);
        Ok(Solved {
            nonce: fields.nonce,
            issued_at,
            solve_time_ms,
            passed,
            difficulty: fields.difficulty,
            pow_bits: bits,
        })
    }

    /// HMAC(answer key, nonce || answer), truncated: without the secret nobody can test the 100
    /// or so possible answers against it.
    fn answer_tag(&self, nonce: &[u8; NONCE_LEN], answer: u32) -> [u8; ANSWER_TAG_LEN] {
        let mut mac = hmac_with(self.answer_key.expose_secret());
        mac.update(nonce);
        mac.update(&answer.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; ANSWER_TAG_LEN];
        tag.copy_from_slice(&full[..ANSWER_TAG_LEN]);
        tag
    }

    fn token_mac(&self, body: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = hmac_with(self.token_key.expose_secret());
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

fn hmac_with(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so the error branch is never taken; it exists only so that
    // no panic path is compiled in.
    <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()))
}

/// The proof-of-work salt of a token: its random nonce in hex. The nonce is under the token's
/// MAC, so a stamp found for one token is worth nothing on another, and no stamp can be
/// computed before the token exists.
fn pow_salt(nonce: &[u8; NONCE_LEN]) -> String {
    hex::encode(nonce)
}

fn thread_tag(thread: &str) -> [u8; THREAD_TAG_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(b"saring captcha thread v1\0");
    hasher.update(thread.as_bytes());
    let full = hasher.finalize();
    let mut tag = [0u8; THREAD_TAG_LEN];
    tag.copy_from_slice(&full[..THREAD_TAG_LEN]);
    tag
}

fn decode_token(token: &str) -> Result<Vec<u8>, CaptchaError> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_CHARS {
        return Err(CaptchaError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| CaptchaError::Malformed)?;
    if bytes.len() != TOKEN_LEN || bytes.first() != Some(&VERSION) {
        return Err(CaptchaError::Malformed);
    }
    Ok(bytes)
}

/// The fields of an authenticated token body.
struct Fields {
    nonce: [u8; NONCE_LEN],
    issued_ms: i64,
    expires_ms: i64,
    answer_tag: [u8; ANSWER_TAG_LEN],
    has_thread: bool,
    thread_tag: [u8; THREAD_TAG_LEN],
    difficulty: u8,
    skip_difficulty: u8,
}

impl Fields {
    fn parse(body: &[u8]) -> Option<Fields> {
        let mut rest = body.get(1..)?;
        let mut take = |n: usize| {
            let (head, tail) = rest.split_at_checked(n)?;
            rest = tail;
            Some(head)
        };
        let nonce = take(NONCE_LEN)?.try_into().ok()?;
        let issued_ms = i64::from_be_bytes(take(8)?.try_into().ok()?);
        let expires_ms = i64::from_be_bytes(take(8)?.try_into().ok()?);
        let answer_tag = take(ANSWER_TAG_LEN)?.try_into().ok()?;
        let has_thread = match take(1)? {
            [0] => false,
            [1] => true,
            _ => return None,
        };
        let thread_tag = take(THREAD_TAG_LEN)?.try_into().ok()?;
        let [difficulty, skip_difficulty] = take(2)? else {
            return None;
        };
        let (difficulty, skip_difficulty) = (*difficulty, *skip_difficulty);
        Some(Fields {
            nonce,
            issued_ms,
            expires_ms,
            answer_tag,
            has_thread,
            thread_tag,
            difficulty,
            skip_difficulty,
        })
    }
}

/// Reads an answer: decimal digits (ASCII or fullwidth, as Japanese and Chinese keyboards type
/// them) with optional surrounding whitespace. Signs, decimals, words or inner spaces are `None`.
fn parse_answer(answer: &str) -> Option<u32> {
    if answer.len() > MAX_ANSWER_BYTES {
        return None;
    }
    let digits = answer.trim();
    if digits.is_empty() {
        return None;
    }
    let mut value: u32 = 0;
    for ch in digits.chars() {
        let d = match ch {
            '0'..='9' => u32::from(ch) - u32::from('0'),
            '\u{FF10}'..='\u{FF19}' => u32::from(ch) - 0xFF10,
            _ => return None,
        };
        value = value.checked_mul(10)?.checked_add(d)?;
    }
    Some(value)
}

fn decode_key(text: &str, path: &Path) -> Result<Vec<u8>, CaptchaError> {
    match hex::decode(text.trim()) {
        Ok(key) if key.len() == 32 => Ok(key),
        _ => Err(CaptchaError::BadKeyFile {
            path: path.to_path_buf(),
        }),
    }
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Tokens answered wrongly, remembered until they expire so they cannot be tried again
/// (see [`Captcha::verify_and_burn`]). Bounded: expired entries are dropped when the list is
/// full, and if it is still full the newest failure is not remembered (that token may then be
/// tried again, which is no worse than having no list).
pub struct BurnedTokens {
    /// Nonce → expiry in Unix milliseconds. A plain mutex: the critical sections are a hash
    /// lookup or insert, and only wrong answers insert.
    inner: parking_lot::Mutex<std::collections::HashMap<[u8; NONCE_LEN], i64>>,
    capacity: usize,
}

impl fmt::Debug for BurnedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BurnedTokens")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Default for BurnedTokens {
    /// Room for 100,000 tokens (a few MiB): ten minutes of wrong answers at 160 a second.
    fn default() -> Self {
        BurnedTokens::new(100_000)
    }
}

impl BurnedTokens {
    /// A list remembering at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        BurnedTokens {
            inner: parking_lot::Mutex::new(std::collections::HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// How many tokens are remembered now (expired ones included until the next purge).
    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets tokens that have expired by `now`; the app may call it on a timer, and it runs by
    /// itself when the list is full.
    pub fn purge(&self, now: DateTime<Utc>) {
        let now_ms = now.timestamp_millis();
        self.inner.lock().retain(|_, expires| *expires > now_ms);
    }

    fn contains(&self, nonce: &[u8; NONCE_LEN], now_ms: i64) -> bool {
        self.inner
            .lock()
            .get(nonce)
            .is_some_and(|expires| *expires > now_ms)
    }

    fn burn(&self, nonce: [u8; NONCE_LEN], expires_ms: i64, now_ms: i64) {
        let mut map = self.inner.lock();
        if map.len() >= self.capacity {
            map.retain(|_, expires| *expires > now_ms);
        }
        if map.len() < self.capacity {
            map.insert(nonce, expires_ms);
        }
    }
}

/// Tokens answered wrongly, remembered where every replica sees them (a table in the shared
/// database), so that a token burnt on one replica is refused on all. The PostgreSQL store
/// provides one (`store::burned_pg`); with the embedded store there is one process and
/// [`BurnedTokens`] alone is enough.
#[async_trait::async_trait]
pub trait SharedBurnedTokens: Send + Sync {
    /// Whether the token with `nonce` was burnt and has not expired by `now_ms` (Unix ms).
    async fn is_burned(&self, nonce: &[u8; 16], now_ms: i64) -> Result<bool, StoreError>;

    /// Remembers the token with `nonce` as burnt until `expires_ms`; answers whether it had been
    /// burnt already (by any replica) and is still unexpired at `now_ms`.
    async fn burn(
        &self,
        nonce: &[u8; 16],
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
}

/// The id of the comment created with a captcha whose token carried `nonce` and was issued at
/// `issued_at` (both sealed in the token): the same on every replica, so a replayed token maps to
/// an existing stream and the store refuses it.
///
/// Laid out as a UUIDv7: the issue time's 48 bits of Unix milliseconds first, then 74 bits of the
/// v5 (SHA-1, in a Saring namespace) hash of the nonce. Ids then sort by when their captcha was
/// issued, so a new comment's entry lands on the last pages of every index keyed by the id (the
/// projection file's `comments` id index, the log's stream names) instead of on a random page of
/// an index that at a million comments no longer fits in SQLite's cache. Ids made before (plain
/// v5 UUIDs) stay valid: an id is only ever looked up, never re-derived from a stored token.
pub fn comment_id_from_nonce(nonce: &[u8; 16], issued_at: DateTime<Utc>) -> Uuid {
    let hash = Uuid::new_v5(&COMMENT_NAMESPACE, nonce).into_bytes();
    // A time before 1970 (a clock gone wrong) is taken as 0 rather than wrapping.
    let ms = u64::try_from(issued_at.timestamp_millis()).unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&hash[6..]);
    bytes[6] = 0x70 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    Uuid::from_bytes(bytes)
}

/// Solves a question such as `[ ] − 3 = 3` the way a bot would, from its text alone; `None` when
/// the text is not a sum with exactly one blank and one non-negative whole answer. Accepts the
/// real symbols (`−`, `×`) and their ASCII stand-ins (`-`, `*`, `x`). The load generator and the
/// tests use it, and it is a reminder that this captcha stops only untargeted bots.
pub fn solve_question(question: &str) -> Option<i64> {
    if question.len() > 256 {
        return None;
    }
    let spaced = question.replace("[ ]", " ? ").replace("[]", " ? ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let [a, op, b, "=", c] = tokens.as_slice() else {
        return None;
    };
    let op = match *op {
        "+" => Op::Add,
        "\u{2212}" | "-" => Op::Sub,
        "\u{00D7}" | "*" | "x" => Op::Mul,
        _ => return None,
    };
    let number = |t: &str| -> Option<Option<i64>> {
        if t == "?" {
            return Some(None);
        }
        if t.is_empty() || t.len() > 9 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok().map(Some)
    };
    let (a, b, c) = (number(a)?, number(b)?, number(c)?);
    let exact_div = |n: i64, d: i64| (d != 0 && n % d == 0).then(|| n / d);
    let answer = match (op, a, b, c) {
        (Op::Add, None, Some(b), Some(c)) => c - b,
        (Op::Add, Some(a), None, Some(c)) => c - a,
        (Op::Add, Some(a), Some(b), None) => a + b,
        (Op::Sub, None, Some(b), Some(c)) => c + b,
        (Op::Sub, Some(a), None, Some(c)) => a - c,
        (Op::Sub, Some(a), Some(b), None) => a - b,
        (Op::Mul, None, Some(b), Some(c)) => exact_div(c, b)?,
        (Op::Mul, Some(a), None, Some(c)) => exact_div(c, a)?,
        (Op::Mul, Some(a), Some(b), None) => a * b,
        _ => return None,
    };
    (answer >= 0).then_some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::messages::sum_words;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn captcha() -> Captcha {
        Captcha::new(vec![7u8; 32], CaptchaConfig::default(), sum_words)
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_300_000, 0).unwrap()
    }

    fn base(c: &Captcha) -> Difficulty {
        c.config().pow.difficulty_for(&pow::RiskSignals::default())
    }

    fn issue(c: &Captcha, thread: Option<&str>, seed: u64) -> (Challenge, u32) {
        let (ch, sum) = c.issue_sum(
            t0(),
            thread,
            Lang::En,
            base(c),
            &mut StdRng::seed_from_u64(seed),
        );
        (ch, sum.answer())
    }

    #[test]
    fn seed_page_question_solves_to_six() {
        assert_eq!(solve_question("[ ] \u{2212} 3 = 3"), Some(6));
        assert_eq!(solve_question("[ ] - 3 = 3"), Some(6));
        assert_eq!(solve_question("4 × [ ] = 12"), Some(3));
        assert_eq!(solve_question("4 + 5 = [ ]"), Some(9));
        assert_eq!(solve_question("[ ] × 5 = 12"), None);
        assert_eq!(solve_question("[ ] × 0 = 0"), None);
        assert_eq!(solve_question("3 − [ ] = 5"), None);
        assert_eq!(solve_question("[ ] + [ ] = 5"), None);
        assert_eq!(solve_question("1 + 2 = 3"), None);
        assert_eq!(solve_question("hello"), None);
    }

    #[test]
    fn prompts_read_as_sentences() {
        let sum = Sum {
            a: 6,
            op: Op::Sub,
            b: 3,
            c: 3,
            blank: Blank::First,
        };
        assert_eq!(sum.question(), "[ ] \u{2212} 3 = 3");
        assert_eq!(
            sum.prompt(sum_words(Lang::Id)),
            "Berapa dikurangi 3 sama dengan 3? Tulis jawabannya dengan angka."
        );
        assert_eq!(
            sum.prompt(sum_words(Lang::En)),
            "What minus 3 equals 3? Type the answer in digits."
        );
        let product = Sum {
            a: 4,
            op: Op::Mul,
            b: 5,
            c: 20,
            blank: Blank::Result,
        };
        assert_eq!(product.question(), "4 \u{00D7} 5 = [ ]");
        assert_eq!(
            product.prompt(sum_words(Lang::Id)),
            "4 dikali 5 sama dengan berapa? Tulis jawabannya dengan angka."
        );
    }

    #[test]
    fn challenge_carries_expiry() {
        let (ch, _) = issue(&captcha(), None, 1);
        assert_eq!(ch.expires_in, 600);
        assert_eq!(ch.expires_at, t0() + TimeDelta::minutes(10));
        assert_eq!(ch.token.len(), 134);
        let json = serde_json::to_value(&ch).unwrap();
        assert!(json.get("token").is_some() && json.get("prompt").is_some());
    }

    #[test]
    fn right_answer_in_any_accepted_spelling() {
        let c = captcha();
        let (ch, answer) = issue(&c, None, 2);
        let later = t0() + TimeDelta::seconds(9);
        let fullwidth: String = answer
            .to_string()
            .chars()
            .map(|d| char::from_u32(u32::from(d) - u32::from('0') + 0xFF10).unwrap())
            .collect();
        for spelled in [
            answer.to_string(),
            format!("  {answer} "),
            format!("\t0{answer}\n"),
            fullwidth,
        ] {
            let solved = c.verify(&ch.token, &spelled, "any-thread", later).unwrap();
            assert_eq!(solved.solve_time_ms, 9_000);
            assert_eq!(solved.issued_at, t0());
        }
    }

    #[test]
    fn wrong_or_odd_answers_refused() {
        let c = captcha();
        let (ch, answer) = issue(&c, None, 3);
        for bad in [
            (answer + 1).to_string(),
            format!("-{answer}"),
            format!("{answer}.0"),
            format!("{answer} 0"),
            "six".into(),
            format!("{}{answer}", " ".repeat(100)),
            "9".repeat(40),
        ] {
            assert!(
                matches!(
                    c.verify(&ch.token, &bad, "t", t0()),
                    Err(CaptchaError::WrongAnswer)
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn no_answer_is_not_a_wrong_one_but_needs_trust() {
        let c = captcha();
        let (ch, _) = issue(&c, None, 3);
        for blank in ["", "  ", "\t"] {
            let solved = c.verify(&ch.token, blank, "t", t0()).unwrap();
            assert_eq!(solved.passed, Passed::NeedsTrust);
        }
    }

    #[test]
    fn expires_at_ttl() {
        let c = captcha();
        let (ch, answer) = issue(&c, None, 4);
        let a = answer.to_string();
        let just_before = t0() + TimeDelta::minutes(10) - TimeDelta::milliseconds(1);
        assert!(c.verify(&ch.token, &a, "t", just_before).is_ok());
        assert!(matches!(
            c.verify(&ch.token, &a, "t", t0() + TimeDelta::minutes(10)),
            Err(CaptchaError::Expired)
        ));
    }

    #[test]
    fn thread_binding() {
        let c = captcha();
        let (ch, answer) = issue(&c, Some("kendal/123"), 5);
        let a = answer.to_string();
        assert!(c.verify(&ch.token, &a, "kendal/123", t0()).is_ok());
        assert!(matches!(
            c.verify(&ch.token, &a, "kendal/124", t0()),
            Err(CaptchaError::WrongThread)
        ));
        let (unbound, answer) = issue(&c, None, 6);
        assert!(
            c.verify(&unbound.token, &answer.to_string(), "whatever", t0())
                .is_ok()
        );
    }

    /// A JSON-API attempt with `answer` and `stamp`.
    fn api<'a>(token: &'a str, answer: &'a str, stamp: &'a str) -> Attempt<'a> {
        Attempt {
            token,
            answer,
            stamp,
            thread: "t",
            stamp_required: true,
        }
    }

    /// A captcha asking for little work, so the tests solve in microseconds.
    fn light() -> Captcha {
        Captcha::new(
            vec![7u8; 32],
            CaptchaConfig {
                pow: PowSettings {
                    difficulty: 6,
                    skip_extra: 3,
                    ..PowSettings::default()
                },
                ..CaptchaConfig::default()
            },
            sum_words,
        )
    }

    #[test]
    fn the_stamp_is_required_with_the_sum_on_the_api_and_checked_first() {
        let c = light();
        let (ch, answer) = issue(&c, Some("t"), 30);
        assert_eq!(ch.pow.difficulty, 6);
        assert_eq!(ch.pow.skip_difficulty, 9);
        let right = answer.to_string();
        let wrong = (answer + 1).to_string();
        assert!(matches!(
            c.verify_attempt(&api(&ch.token, &right, ""), t0()),
            Err(CaptchaError::PowMissing)
        ));
        // A bad stamp is refused before the answer is looked at, so it burns nothing.
        let stamp = pow::solve(&ch.pow.salt, 6);
        let bad = (0..)
            .find(|n| pow::stamp_bits(&ch.pow.salt, &n.to_string()).unwrap() < 6)
            .unwrap()
            .to_string();
        assert!(matches!(
            c.verify_attempt(&api(&ch.token, &wrong, &bad), t0()),
            Err(CaptchaError::PowWrong)
        ));
        let solved = c
            .verify_attempt(&api(&ch.token, &right, &stamp.to_string()), t0())
            .unwrap();
        assert_eq!(solved.passed, Passed::Sum);
        assert_eq!(solved.difficulty, 6);
        assert!(solved.pow_bits >= 6);
        // The plain form may come without it.
        let form = Attempt {
            stamp_required: false,
            ..api(&ch.token, &right, "")
        };
        assert_eq!(c.verify_attempt(&form, t0()).unwrap().passed, Passed::Sum);
    }

    #[test]
    fn a_stamp_for_one_token_fails_on_another() {
        let c = light();
        let (first, a1) = issue(&c, Some("t"), 31);
        let (second, a2) = issue(&c, Some("t"), 32);
        assert_ne!(first.pow.salt, second.pow.salt);
        let stamp = pow::solve(&first.pow.salt, 9);
        assert!(pow::stamp_bits(&second.pow.salt, &stamp.to_string()).unwrap() < 9);
        // Both for skipping and with the sum (unless it happens to work by chance, 1 in 64, which
        // a fixed seed rules out).
        assert!(matches!(
            c.verify_attempt(&api(&second.token, "", &stamp.to_string()), t0()),
            Err(CaptchaError::PowWrong)
                | Ok(Solved {
                    passed: Passed::NeedsTrust,
                    ..
                })
        ));
        assert!(matches!(
            c.verify_attempt(
                &api(&second.token, &a2.to_string(), &stamp.to_string()),
                t0()
            ),
            Err(CaptchaError::PowWrong)
        ));
        assert!(
            c.verify_attempt(
                &api(&first.token, &a1.to_string(), &stamp.to_string()),
                t0()
            )
            .is_ok()
        );
        // A salt and difficulty edited into the token break its signature.
        let mut bytes = URL_SAFE_NO_PAD.decode(&second.token).unwrap();
        bytes[BODY_LEN - 2] = 0;
        bytes[BODY_LEN - 1] = 1;
        let forged = URL_SAFE_NO_PAD.encode(&bytes);
        assert!(matches!(
            c.verify_attempt(&api(&forged, "", "1"), t0()),
            Err(CaptchaError::BadSignature)
        ));
    }

    #[test]
    fn skipping_the_sum_needs_the_higher_difficulty() {
        let c = light();
        let (ch, _) = issue(&c, Some("t"), 33);
        let skip = pow::solve(&ch.pow.salt, ch.pow.skip_difficulty);
        let solved = c
            .verify_attempt(&api(&ch.token, "", &skip.to_string()), t0())
            .unwrap();
        assert_eq!(solved.passed, Passed::Skip);
        // The base stamp alone is not enough to skip (unless it is by luck a skip-level one).
        let base = (0..)
            .find(|n| {
                let b = pow::stamp_bits(&ch.pow.salt, &n.to_string()).unwrap();
                (6..9).contains(&b)
            })
            .unwrap();
        let solved = c
            .verify_attempt(&api(&ch.token, "", &base.to_string()), t0())
            .unwrap();
        assert_eq!(solved.passed, Passed::NeedsTrust);
        let nothing = c.verify_attempt(&api(&ch.token, "", ""), t0()).unwrap();
        assert_eq!((nothing.passed, nothing.pow_bits), (Passed::NeedsTrust, 0));
    }

    #[test]
    fn a_stamped_token_is_one_use_and_expires() {
        let c = light();
        let (ch, answer) = issue(&c, Some("t"), 34);
        let stamp = pow::solve(&ch.pow.salt, 6).to_string();
        let a = answer.to_string();
        let first = c.verify_attempt(&api(&ch.token, &a, &stamp), t0()).unwrap();
        // The replay maps to the same comment id, which the store refuses as a second stream.
        let again = c.verify_attempt(&api(&ch.token, &a, &stamp), t0()).unwrap();
        assert_eq!(first.comment_id(), again.comment_id());
        // A wrong answer with a good stamp still burns the token for the right one.
        let burned = BurnedTokens::default();
        let wrong = (answer + 1).to_string();
        let run =
            |att: Attempt<'_>| futures::executor::block_on(c.verify_and_burn(&att, t0(), &burned));
        assert!(matches!(
            run(api(&ch.token, &wrong, &stamp)),
            Err(CaptchaError::WrongAnswer)
        ));
        assert!(matches!(
            run(api(&ch.token, &a, &stamp)),
            Err(CaptchaError::Burned)
        ));
        let (ch2, answer2) = issue(&c, Some("t"), 35);
        let stamp2 = pow::solve(&ch2.pow.salt, 9).to_string();
        let late = t0() + TimeDelta::minutes(10);
        for att in [
            api(&ch2.token, &answer2.to_string(), &stamp2),
            api(&ch2.token, "", &stamp2),
        ] {
            assert!(matches!(
                c.verify_attempt(&att, late),
                Err(CaptchaError::Expired)
            ));
        }
    }

    #[test]
    fn risk_shows_in_the_token() {
        let c = light();
        let d = Difficulty { sum: 12, skip: 15 };
        let ch = c.issue_at(t0(), Some("t"), Lang::En, d, &mut StdRng::seed_from_u64(36));
        assert_eq!((ch.pow.difficulty, ch.pow.skip_difficulty), (12, 15));
        let weak = pow::solve(&ch.pow.salt, 6);
        if pow::stamp_bits(&ch.pow.salt, &weak.to_string()).unwrap() < 12 {
            assert!(matches!(
                c.verify_attempt(&api(&ch.token, "", &weak.to_string()), t0()),
                Err(CaptchaError::PowWrong)
            ));
        }
    }

    /// The async verify, driven to completion: no I/O happens without a shared table.
    fn vab(
        c: &Captcha,
        token: &str,
        answer: &str,
        thread: &str,
        now: DateTime<Utc>,
        burned: &BurnedTokens,
    ) -> Result<Solved, CaptchaError> {
        let attempt = Attempt {
            token,
            answer,
            stamp: "",
            thread,
            stamp_required: false,
        };
        futures::executor::block_on(c.verify_and_burn(&attempt, now, burned))
    }

    /// A shared table in memory, standing in for the database table between two replicas.
    #[derive(Default)]
    struct SharedList(parking_lot::Mutex<std::collections::HashMap<[u8; 16], i64>>);

    #[async_trait::async_trait]
    impl SharedBurnedTokens for SharedList {
        async fn is_burned(&self, nonce: &[u8; 16], now_ms: i64) -> Result<bool, StoreError> {
            Ok(self.0.lock().get(nonce).is_some_and(|e| *e > now_ms))
        }
        async fn burn(
            &self,
            nonce: &[u8; 16],
            expires_ms: i64,
            now_ms: i64,
        ) -> Result<bool, StoreError> {
            let before = self.0.lock().insert(*nonce, expires_ms);
            Ok(before.is_some_and(|e| e > now_ms))
        }
    }

    #[test]
    fn a_token_burnt_on_one_replica_is_refused_on_another() {
        let shared: Arc<SharedList> = Arc::default();
        let a = captcha().with_shared_burns(Some(shared.clone() as Arc<dyn SharedBurnedTokens>));
        let b = captcha().with_shared_burns(Some(shared.clone() as Arc<dyn SharedBurnedTokens>));
        let (local_a, local_b) = (BurnedTokens::default(), BurnedTokens::default());
        let (ch, answer) = issue(&a, Some("t"), 21);
        let right = answer.to_string();
        let wrong = (answer + 1).to_string();
        assert!(matches!(
            vab(&a, &ch.token, &wrong, "t", t0(), &local_a),
            Err(CaptchaError::WrongAnswer)
        ));
        // The other replica never saw the wrong answer, yet refuses the right one.
        assert!(matches!(
            vab(&b, &ch.token, &right, "t", t0(), &local_b),
            Err(CaptchaError::Burned)
        ));
        // A wrong answer there too reads as burnt, not as a fresh mistake.
        assert!(matches!(
            vab(&b, &ch.token, &wrong, "t", t0(), &local_b),
            Err(CaptchaError::Burned)
        ));
        // An untouched token still works on either.
        let (ch2, answer2) = issue(&a, Some("t"), 22);
        assert!(vab(&b, &ch2.token, &answer2.to_string(), "t", t0(), &local_b).is_ok());
    }

    #[test]
    fn a_wrong_answer_burns_the_token() {
        let c = captcha();
        let burned = BurnedTokens::default();
        let (ch, answer) = issue(&c, Some("a"), 11);
        let right = answer.to_string();
        let wrong = (answer + 1).to_string();
        assert!(matches!(
            vab(&c, &ch.token, &wrong, "a", t0(), &burned),
            Err(CaptchaError::WrongAnswer)
        ));
        assert!(matches!(
            vab(&c, &ch.token, &right, "a", t0(), &burned),
            Err(CaptchaError::Burned)
        ));
        // Posting to another thread burns it as well.
        let (ch2, answer2) = issue(&c, Some("a"), 12);
        let right2 = answer2.to_string();
        assert!(matches!(
            vab(&c, &ch2.token, &right2, "b", t0(), &burned),
            Err(CaptchaError::WrongThread)
        ));
        assert!(matches!(
            vab(&c, &ch2.token, &right2, "a", t0(), &burned),
            Err(CaptchaError::Burned)
        ));
        // A fresh token answered right is accepted and not burned (the store enforces one use).
        let (ch3, answer3) = issue(&c, None, 13);
        assert!(vab(&c, &ch3.token, &answer3.to_string(), "a", t0(), &burned).is_ok());
        assert_eq!(burned.len(), 2);
        // Forged tokens never reach the list.
        assert!(vab(&c, "junk", "1", "a", t0(), &burned).is_err());
        assert_eq!(burned.len(), 2);
        burned.purge(t0() + TimeDelta::minutes(10));
        assert!(burned.is_empty());
    }

    #[test]
    fn burn_list_stays_bounded() {
        let c = captcha();
        let burned = BurnedTokens::new(3);
        for seed in 0..5 {
            let (ch, answer) = issue(&c, None, 100 + seed);
            let _ = vab(&c, &ch.token, &(answer + 1).to_string(), "t", t0(), &burned);
        }
        assert_eq!(burned.len(), 3);
        // After expiry the list makes room again by itself.
        let later = t0() + TimeDelta::minutes(11);
        let c_later = c.issue(later, None, Lang::Id, &mut StdRng::seed_from_u64(200));
        let answer = solve_question(&c_later.question).unwrap() + 1;
        let _ = vab(&c, &c_later.token, &answer.to_string(), "t", later, &burned);
        assert_eq!(burned.len(), 1);
    }

    #[test]
    fn other_secret_is_bad_signature() {
        let (ch, answer) = issue(&captcha(), None, 7);
        let other = Captcha::new(vec![8u8; 32], CaptchaConfig::default(), sum_words);
        assert!(matches!(
            other.verify(&ch.token, &answer.to_string(), "t", t0()),
            Err(CaptchaError::BadSignature)
        ));
    }

    #[test]
    fn garbage_tokens_are_malformed() {
        let c = captcha();
        for bad in ["", "x", "!!!!", &"A".repeat(134), &"A".repeat(5000)] {
            assert!(matches!(
                c.verify(bad, "1", "t", t0()),
                Err(CaptchaError::Malformed)
            ));
        }
    }

    #[test]
    fn nonce_gives_stable_distinct_comment_ids() {
        let c = captcha();
        let (ch, answer) = issue(&c, None, 8);
        let s1 = c.verify(&ch.token, &answer.to_string(), "t", t0()).unwrap();
        let s2 = c.verify(&ch.token, &answer.to_string(), "u", t0()).unwrap();
        assert_eq!(s1.comment_id(), s2.comment_id());
        assert_eq!(s1.comment_id().get_version_num(), 7);
        assert_eq!(
            s1.comment_id().get_variant(),
            uuid::Variant::RFC4122,
            "still a standard UUID"
        );
        let (ch2, answer2) = issue(&c, None, 9);
        let s3 = c
            .verify(&ch2.token, &answer2.to_string(), "t", t0())
            .unwrap();
        assert_ne!(s1.comment_id(), s3.comment_id());
    }

    #[test]
    fn comment_ids_sort_by_issue_time_and_stay_fixed_across_versions() {
        let nonce = [7u8; 16];
        let at = |ms| DateTime::from_timestamp_millis(ms).unwrap();
        let id = comment_id_from_nonce(&nonce, at(1_765_000_000_000));
        // Pinned: replicas of different releases must derive the same id from one token, or a
        // replay through the other replica would make a second comment.
        assert_eq!(id.to_string(), "019af232-b200-7414-b1aa-767e8147ba64");
        assert_eq!(id, comment_id_from_nonce(&nonce, at(1_765_000_000_000)));
        // The issue time leads: a later captcha's id sorts after, whatever its nonce.
        let later = comment_id_from_nonce(&[0u8; 16], at(1_765_000_000_001));
        assert!(later > id);
        assert_ne!(comment_id_from_nonce(&[8u8; 16], at(1_765_000_000_000)), id);
        // A clock before 1970 does not wrap to the end of the order.
        assert!(comment_id_from_nonce(&nonce, at(-5)) < id);
    }

    #[test]
    fn debug_hides_the_secret() {
        let c = Captcha::new(
            b"super-secret-value-0123456789abc".to_vec(),
            CaptchaConfig::default(),
            sum_words,
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("super-secret"));
        assert!(shown.contains("max_operand"));
    }

    #[test]
    fn odd_configs_are_made_safe() {
        let c = Captcha::new(
            vec![1; 32],
            CaptchaConfig {
                min_operand: 5_000_000,
                max_operand: 2,
                ttl: Duration::ZERO,
                operations: vec![],
                pow: PowSettings::default(),
            },
            sum_words,
        );
        assert_eq!(c.config().min_operand, 2);
        assert_eq!(c.config().max_operand, 1000);
        assert_eq!(c.config().operations.len(), 3);
        assert_eq!(c.config().ttl, Duration::from_secs(1));
    }

    #[test]
    fn secret_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = Captcha::load_or_create_secret(&data).unwrap();
        assert_eq!(first.len(), 32);
        let second = Captcha::load_or_create_secret(&data).unwrap();
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(data.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary files left behind.
        assert_eq!(fs::read_dir(&data).unwrap().count(), 1);
        // A token issued before a "restart" verifies after it.
        let before = Captcha::new(first, CaptchaConfig::default(), sum_words);
        let (ch, answer) = issue(&before, None, 10);
        let after = Captcha::new(second, CaptchaConfig::default(), sum_words);
        assert!(
            after
                .verify(&ch.token, &answer.to_string(), "t", t0())
                .is_ok()
        );
    }

    #[test]
    fn corrupt_key_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEY_FILE), "not hex").unwrap();
        assert!(matches!(
            Captcha::load_or_create_secret(dir.path()),
            Err(CaptchaError::BadKeyFile { .. })
        ));
    }

    fn config_strategy() -> impl Strategy<Value = CaptchaConfig> {
        (
            0u32..40,
            0u32..40,
            proptest::sample::subsequence(vec![Op::Add, Op::Sub, Op::Mul], 0..=3),
        )
            .prop_map(|(lo, hi, operations)| CaptchaConfig {
                min_operand: lo,
                max_operand: hi,
                operations,
                ..CaptchaConfig::default()
            })
    }

    proptest! {
        #[test]
        fn every_question_is_fair_and_solvable(config in config_strategy(), seed: u64) {
            let c = Captcha::new(vec![3; 32], config, sum_words);
            let (ch, sum) = c.issue_sum(t0(), None, Lang::Id, base(&c), &mut StdRng::seed_from_u64(seed));
            let cfg = c.config();
            let range = cfg.min_operand..=cfg.max_operand;
            prop_assert!(range.contains(&sum.a) && range.contains(&sum.b));
            prop_assert!(cfg.operations.contains(&sum.op));
            prop_assert_eq!(ch.question.matches("[ ]").count(), 1);
            prop_assert!(!ch.question.contains('-'));
            prop_assert_eq!(solve_question(&ch.question), Some(i64::from(sum.answer())));
            prop_assert!(c.verify(&ch.token, &sum.answer().to_string(), "t", t0()).is_ok());
            prop_assert!(matches!(
                c.verify(&ch.token, &(sum.answer() + 1).to_string(), "t", t0()),
                Err(CaptchaError::WrongAnswer)
            ));
        }

        #[test]
        fn any_tampering_is_refused(seed: u64, index in 0usize..TOKEN_LEN, flip in 1u8..=255) {
            let c = captcha();
            let (ch, answer) = issue(&c, Some("a"), seed);
            let mut bytes = URL_SAFE_NO_PAD.decode(&ch.token).unwrap();
            bytes[index] ^= flip;
            let forged = URL_SAFE_NO_PAD.encode(&bytes);
            let result = c.verify(&forged, &answer.to_string(), "a", t0());
            prop_assert!(matches!(
                result,
                Err(CaptchaError::BadSignature | CaptchaError::Malformed)
            ));
        }

        #[test]
        fn arbitrary_input_never_panics(token in ".{0,300}", answer in ".{0,80}", thread in ".{0,40}") {
            let c = captcha();
            prop_assert!(c.verify(&token, &answer, &thread, t0()).is_err());
            let _ = solve_question(&token);
        }

        #[test]
        fn base64_shaped_garbage_is_refused(bytes in proptest::collection::vec(any::<u8>(), TOKEN_LEN..=TOKEN_LEN)) {
            let c = captcha();
            let token = URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert!(c.verify(&token, "1", "t", t0()).is_err());
        }
    }
}
