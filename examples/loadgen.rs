//! Load generator for Saring (and, with `--url`, for any HTTP server on this machine).
//!
//! Writers run the whole reader flow a browser runs: fetch a captcha for a thread, solve the
//! question from its text, post a realistic Indonesian comment, and count the `201`s (comments
//! durably stored) and every refusal by status and error code. Readers fetch thread pages, a
//! configurable share of them with `If-None-Match` (answered `304`). `--url` only reads one path,
//! so the bare axum ceiling (`examples/bare_axum.rs`) is measured with the same client.
//!
//! Each client owns one keep-alive HTTP/1.1 connection (as wrk does), so the client side stays
//! cheap on a machine whose cores the server shares. Latencies go into HDR histograms.
//!
//! ```text
//! cargo run --release --example loadgen -- --target http://127.0.0.1:PORT \
//!     --writers 32 --readers 64 --duration 20s --threads 100
//! cargo run --release --example loadgen -- --target http://127.0.0.1:PORT --url / --readers 64
//! ```
//!
//! Loopback only, bounded in clients, time and comments.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use tokio::net::TcpStream;

/// Clients (writers plus readers) at most.
const MAX_CLIENTS: usize = 1024;
/// Longest run.
const MAX_DURATION: Duration = Duration::from_secs(600);
/// Comments one seeding run may ask for.
const MAX_COMMENTS: u64 = 2_000_000;
/// Threads one run may spread over.
const MAX_THREADS: usize = 1_000_000;
/// A request slower than this counts as a timeout and its connection is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Highest latency the histograms hold (µs); slower requests are recorded at this value.
const MAX_LATENCY_US: u64 = 60_000_000;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Load generator for Saring: reader flow (captcha, solve, post) and thread reads")]
struct Args {
    /// Server to load, e.g. http://127.0.0.1:8080 (loopback addresses only).
    #[arg(long)]
    target: String,
    /// Clients running the full reader flow (captcha, solve, post).
    #[arg(long, default_value_t = 0)]
    writers: usize,
    /// Clients reading thread pages (or `--url`).
    #[arg(long, default_value_t = 0)]
    readers: usize,
    /// How long to run: `20s`, `500ms`, `2m` (at most 10 minutes).
    #[arg(long, default_value = "20s")]
    duration: String,
    /// Number of threads (articles) the clients spread over.
    #[arg(long, default_value_t = 100)]
    threads: usize,
    /// Thread keys are `PREFIX-0` .. `PREFIX-(threads-1)`.
    #[arg(long, default_value = "lt")]
    thread_prefix: String,
    /// Share of thread reads sent with the page's last ETag in `If-None-Match` (0 to 1).
    #[arg(long, default_value_t = 0.5)]
    conditional: f64,
    /// Seeding: stop after this many comment attempts, spread round-robin over the threads
    /// (so each thread gets the same number); `--duration` still bounds the run.
    #[arg(long)]
    comments: Option<u64>,
    /// Read-only mode: readers fetch this path (e.g. `/` or `/api/v1/threads/a/comments`).
    #[arg(long)]
    url: Option<String>,
    /// Approve comments the policy held, with this moderator token, so seeded threads show them.
    #[arg(long)]
    approve_token: Option<String>,
    /// Worker threads of the client's runtime (the server shares the machine's cores).
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Name printed on the RESULT lines, to tell runs apart in a log.
    #[arg(long, default_value = "run")]
    label: String,
    /// Proof of work: `solve` finds the stamp the challenge asks with the sum (as a browser's
    /// widget does, here in native SHA-256), `skip` finds the higher one and sends no answer,
    /// `off` sends none (refused when the server asks for one).
    #[arg(long, default_value = "solve")]
    pow: String,
}

/// What a latency or an outcome is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Captcha,
    Post,
    Flow,
    Approve,
    Read200,
    Read304,
    Url,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Captcha => "captcha",
            Kind::Post => "post",
            Kind::Flow => "flow",
            Kind::Approve => "approve",
            Kind::Read200 => "read_200",
            Kind::Read304 => "read_304",
            Kind::Url => "url",
        }
    }

    /// Whether this kind is one HTTP request (the flow is two).
    fn is_request(self) -> bool {
        !matches!(self, Kind::Flow)
    }
}

/// What one client saw.
#[derive(Default)]
struct Stats {
    latency: BTreeMap<Kind, Histogram<u64>>,
    outcomes: BTreeMap<(Kind, String), u64>,
    bytes: BTreeMap<Kind, u64>,
    stored: u64,
    errors: u64,
    reconnects: u64,
}

impl Stats {
    fn record(&mut self, kind: Kind, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_LATENCY_US);
        self.latency
            .entry(kind)
            .or_insert_with(|| {
                Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                    .expect("static histogram bounds are valid")
            })
            .saturating_record(us);
    }

    fn outcome(&mut self, kind: Kind, label: String) {
        *self.outcomes.entry((kind, label)).or_default() += 1;
    }

    fn error(&mut self, kind: Kind, label: String) {
        self.errors += 1;
        self.outcome(kind, label);
    }

    fn merge(&mut self, other: Stats) {
        for (kind, h) in other.latency {
            match self.latency.get_mut(&kind) {
                Some(mine) => {
                    // Same bounds everywhere, so adding cannot fail.
                    let _ = mine.add(&h);
                }
                None => {
                    self.latency.insert(kind, h);
                }
            }
        }
        for (k, n) in other.outcomes {
            *self.outcomes.entry(k).or_default() += n;
        }
        for (k, n) in other.bytes {
            *self.bytes.entry(k).or_default() += n;
        }
        self.stored += other.stored;
        self.errors += other.errors;
        self.reconnects += other.reconnects;
    }
}

/// Shared settings of a run.
struct Ctx {
    addr: SocketAddr,
    host: HeaderValue,
    deadline: Instant,
    threads: usize,
    prefix: String,
    conditional: f64,
    comment_limit: Option<u64>,
    tickets: AtomicU64,
    url: Option<String>,
    approve: Option<HeaderValue>,
    /// `solve`, `skip` or `off` (see `--pow`).
    pow: String,
}

/// A failed exchange, labelled for the report.
struct Failure(String);

/// One keep-alive HTTP/1.1 connection, reopened after any transport error.
struct Conn {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
    reconnects: u64,
}

/// An answer: status, the ETag if any, and the whole body.
struct Answer {
    status: StatusCode,
    etag: Option<HeaderValue>,
    body: Bytes,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn {
            addr,
            sender: None,
            reconnects: 0,
        }
    }

    async fn connect(&mut self) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|e| Failure(format!("connect: {}", e.kind())))?;
        // Requests are small and latency is what is measured.
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure(format!("handshake: {e}")))?;
        tokio::spawn(async move {
            // The connection ends when its sender is dropped or the server closes it; either
            // way the next request reconnects.
            let _ = connection.await;
        });
        self.reconnects += 1;
        Ok(sender)
    }

    async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<Answer, Failure> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(req)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(f)) => {
                self.sender = None;
                Err(f)
            }
            Err(_) => {
                self.sender = None;
                Err(Failure("timeout".into()))
            }
        }
    }

    async fn exchange(&mut self, req: Request<Full<Bytes>>) -> Result<Answer, Failure> {
        let mut sender = match self.sender.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        sender
            .ready()
            .await
            .map_err(|e| Failure(format!("connection: {e}")))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| Failure(format!("request: {e}")))?;
        let status = resp.status();
        let etag = resp.headers().get(header::ETAG).cloned();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure(format!("body: {e}")))?
            .to_bytes();
        self.sender = Some(sender);
        Ok(Answer { status, etag, body })
    }
}

fn request(
    ctx: &Ctx,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<Request<Full<Bytes>>, Failure> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, ctx.host.clone())
        .header(header::USER_AGENT, "saring-loadgen/1")
        .header(header::ACCEPT_LANGUAGE, "id");
    let body = match body {
        Some(json) => {
            b = b.header(header::CONTENT_TYPE, "application/json");
            Bytes::from(json)
        }
        None => Bytes::new(),
    };
    b.body(Full::new(body))
        .map_err(|e| Failure(format!("bad request: {e}")))
}

/// The label of a refused answer: status plus the error code of Saring's JSON error body.
fn refusal(answer: &Answer) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: ErrorCode,
    }
    #[derive(Deserialize)]
    struct ErrorCode {
        code: String,
    }
    match serde_json::from_slice::<ErrorBody>(&answer.body) {
        Ok(e) => format!("{} {}", answer.status.as_u16(), e.error.code),
        Err(_) => answer.status.as_u16().to_string(),
    }
}

#[derive(Deserialize)]
struct Challenge {
    token: String,
    question: String,
    #[serde(default)]
    pow: Option<PowJson>,
}

/// The proof-of-work half of a challenge.
#[derive(Deserialize)]
struct PowJson {
    salt: String,
    difficulty: u8,
    skip_difficulty: u8,
}

#[derive(Deserialize)]
struct Created {
    id: String,
    status: String,
}

const NAMES: &[&str] = &[
    "Budi Santoso",
    "Siti Rahmawati",
    "Agus Setiawan",
    "Dewi Lestari",
    "Rudi Hartono",
    "Ayu Wulandari",
    "Hendra Gunawan",
    "Nur Aini",
    "Bambang Prasetyo",
    "Intan Permata",
    "Yusuf Hidayat",
    "Rina Marlina",
];

const SENTENCES: &[&str] = &[
    "Terima kasih atas beritanya, sangat membantu warga yang belum tahu soal jadwal perbaikan jalan ini.",
    "Semoga pemerintah daerah segera menindaklanjuti keluhan masyarakat di kecamatan kami.",
    "Saya tinggal dekat lokasi kejadian dan memang sejak pagi lalu lintas macet total.",
    "Mohon redaksi juga meliput kondisi pasar tradisional yang atapnya bocor setiap hujan deras.",
    "Anggaran sebesar itu seharusnya diawasi bersama supaya tidak ada kebocoran di tengah jalan.",
    "Kami berharap bantuan untuk petani cepat cair karena musim tanam sudah dekat.",
    "Beritanya bagus, tapi ada salah ketik pada nama desa di paragraf ketiga.",
    "Anak saya sekolah di sana, dan memang ruang kelasnya sudah lama perlu diperbaiki.",
    "Harga cabai dan bawang di pasar naik lagi minggu ini, semoga segera stabil.",
    "Salut untuk para relawan yang membantu evakuasi warga saat banjir kemarin malam.",
    "Apakah ada informasi kapan jembatan darurat itu bisa dilalui kendaraan roda empat?",
    "Pelayanan puskesmas di desa kami sudah jauh lebih baik dibanding tahun lalu.",
    "Semoga acara budaya ini rutin diadakan supaya anak muda mengenal tradisi daerahnya.",
    "Saya setuju dengan pendapat kepala dinas, tetapi pelaksanaannya perlu diawasi warga.",
    "Listrik di kampung kami padam hampir tiga jam, mohon PLN memberi penjelasan resmi.",
    "Tolong dicek juga lampu penerangan jalan di ruas menuju terminal yang sudah lama mati.",
];

const VILLAGES: &[&str] = &[
    "Sukamaju",
    "Karanganyar",
    "Tanjung Sari",
    "Mekarsari",
    "Sidomulyo",
    "Cibadak",
    "Bojongsari",
    "Pasir Putih",
    "Margahayu",
    "Sumbersari",
    "Kebonagung",
    "Telukjambe",
];

/// A comment of about 300 characters, different every time: the shipped policy holds the same
/// text seen in several threads (a spam wave), so every body ends in a reader's own greeting.
fn comment_body(rng: &mut SmallRng) -> String {
    let mut body = String::with_capacity(400);
    while body.chars().count() < 240 {
        if !body.is_empty() {
            body.push(' ');
        }
        body.push_str(SENTENCES[rng.random_range(0..SENTENCES.len())]);
    }
    body.push_str(&format!(
        " Salam dari warga RT {:02}/RW {:02} {}, {} tahun tinggal di sini.",
        rng.random_range(1..=30),
        rng.random_range(1..=15),
        VILLAGES[rng.random_range(0..VILLAGES.len())],
        rng.random_range(2..=60)
    ));
    body
}

fn thread_key(ctx: &Ctx, n: usize) -> String {
    format!("{}-{}", ctx.prefix, n)
}

async fn writer(ctx: Arc<Ctx>, id: usize) -> Stats {
    let mut stats = Stats::default();
    let mut conn = Conn::new(ctx.addr);
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    while Instant::now() < ctx.deadline {
        let ticket = ctx.tickets.fetch_add(1, Ordering::Relaxed);
        let key = match ctx.comment_limit {
            Some(limit) if ticket >= limit => break,
            // Round-robin, so a seeded thread gets exactly its share.
            Some(_) => usize::try_from(ticket).unwrap_or(0) % ctx.threads,
            None => rng.random_range(0..ctx.threads),
        };
        let thread = thread_key(&ctx, key);
        let started = Instant::now();
        let Some(challenge) = fetch_captcha(&ctx, &mut conn, &mut stats, &thread).await else {
            continue;
        };
        let Some(answer) = saring::captcha::solve_question(&challenge.question) else {
            stats.error(
                Kind::Captcha,
                format!("unsolvable question {:?}", challenge.question),
            );
            continue;
        };
        let name = NAMES[(id + rng.random_range(0..NAMES.len())) % NAMES.len()];
        let email = format!(
            "{}{}@contoh.id",
            name.to_lowercase().replace(' ', "."),
            rng.random_range(0..10_000)
        );
        let body = serde_json::json!({
            "author_name": name,
            "author_email": email,
            "author_url": "",
            "body": comment_body(&mut rng),
            "captcha_answer": if ctx.pow == "skip" { String::new() } else { answer.to_string() },
            "captcha_pow": stamp_for(&ctx.pow, challenge.pow.as_ref()),
            "captcha_token": challenge.token,
            "honeypot": "",
        });
        let path = format!("/api/v1/threads/{thread}/comments");
        let req = match request(&ctx, Method::POST, &path, serde_json::to_vec(&body).ok()) {
            Ok(r) => r,
            Err(Failure(f)) => {
                stats.error(Kind::Post, f);
                continue;
            }
        };
        let t = Instant::now();
        let result = conn.send(req).await;
        stats.record(Kind::Post, t.elapsed());
        match result {
            Ok(a) if a.status == StatusCode::CREATED => {
                stats.record(Kind::Flow, started.elapsed());
                stats.stored += 1;
                *stats.bytes.entry(Kind::Post).or_default() += a.body.len() as u64;
                match serde_json::from_slice::<Created>(&a.body) {
                    Ok(c) => {
                        stats.outcome(Kind::Post, format!("201 {}", c.status));
                        if c.status == "pending"
                            && let Some(token) = &ctx.approve
                        {
                            approve(&ctx, &mut conn, &mut stats, &c.id, token).await;
                        }
                    }
                    Err(_) => stats.outcome(Kind::Post, "201 (unreadable body)".into()),
                }
            }
            Ok(a) => stats.error(Kind::Post, refusal(&a)),
            Err(Failure(f)) => stats.error(Kind::Post, f),
        }
    }
    stats.reconnects = conn.reconnects;
    stats
}

/// The stamp a script would send: solved on this client's CPU, like the widget does in the
/// reader's browser.
fn stamp_for(mode: &str, pow: Option<&PowJson>) -> String {
    match (mode, pow) {
        ("solve", Some(p)) if p.difficulty > 0 => {
            saring::pow::solve(&p.salt, p.difficulty).to_string()
        }
        ("skip", Some(p)) => saring::pow::solve(&p.salt, p.skip_difficulty).to_string(),
        _ => String::new(),
    }
}

async fn fetch_captcha(
    ctx: &Ctx,
    conn: &mut Conn,
    stats: &mut Stats,
    thread: &str,
) -> Option<Challenge> {
    let req = match request(
        ctx,
        Method::GET,
        &format!("/api/v1/captcha?thread={thread}"),
        None,
    ) {
        Ok(r) => r,
        Err(Failure(f)) => {
            stats.error(Kind::Captcha, f);
            return None;
        }
    };
    let t = Instant::now();
    let result = conn.send(req).await;
    stats.record(Kind::Captcha, t.elapsed());
    match result {
        Ok(a) if a.status == StatusCode::OK => match serde_json::from_slice::<Challenge>(&a.body) {
            Ok(c) => {
                stats.outcome(Kind::Captcha, "200".into());
                *stats.bytes.entry(Kind::Captcha).or_default() += a.body.len() as u64;
                Some(c)
            }
            Err(e) => {
                stats.error(Kind::Captcha, format!("200 unreadable challenge: {e}"));
                None
            }
        },
        Ok(a) => {
            stats.error(Kind::Captcha, refusal(&a));
            None
        }
        Err(Failure(f)) => {
            stats.error(Kind::Captcha, f);
            None
        }
    }
}

/// Approves a held comment: reads its version, then decides with it.
async fn approve(ctx: &Ctx, conn: &mut Conn, stats: &mut Stats, id: &str, token: &HeaderValue) {
    #[derive(Deserialize)]
    struct Detail {
        version: u64,
    }
    let t = Instant::now();
    let detail = request(
        ctx,
        Method::GET,
        &format!("/api/v1/mod/comments/{id}"),
        None,
    )
    .map(|mut r| {
        r.headers_mut().insert(header::AUTHORIZATION, token.clone());
        r
    });
    let version = match detail {
        Ok(req) => match conn.send(req).await {
            Ok(a) if a.status == StatusCode::OK => serde_json::from_slice::<Detail>(&a.body)
                .ok()
                .map(|d| d.version),
            Ok(a) => {
                stats.error(Kind::Approve, format!("detail {}", refusal(&a)));
                return;
            }
            Err(Failure(f)) => {
                stats.error(Kind::Approve, f);
                return;
            }
        },
        Err(Failure(f)) => {
            stats.error(Kind::Approve, f);
            return;
        }
    };
    let Some(version) = version else {
        stats.error(Kind::Approve, "detail without a version".into());
        return;
    };
    let body = serde_json::json!({"action": "approve", "reason": "load test", "expected_version": version});
    let req = request(
        ctx,
        Method::POST,
        &format!("/api/v1/mod/comments/{id}/decision"),
        serde_json::to_vec(&body).ok(),
    )
    .map(|mut r| {
        r.headers_mut().insert(header::AUTHORIZATION, token.clone());
        r
    });
    match req {
        Ok(req) => match conn.send(req).await {
            Ok(a) if a.status == StatusCode::OK => stats.outcome(Kind::Approve, "200".into()),
            Ok(a) => stats.error(Kind::Approve, refusal(&a)),
            Err(Failure(f)) => stats.error(Kind::Approve, f),
        },
        Err(Failure(f)) => stats.error(Kind::Approve, f),
    }
    stats.record(Kind::Approve, t.elapsed());
}

async fn reader(ctx: Arc<Ctx>) -> Stats {
    let mut stats = Stats::default();
    let mut conn = Conn::new(ctx.addr);
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    // Last ETag seen per thread, as a browser cache would keep it.
    let mut etags: HashMap<usize, HeaderValue> = HashMap::new();
    while Instant::now() < ctx.deadline {
        let (kind_ok, path, etag) = match &ctx.url {
            Some(url) => (Kind::Url, url.clone(), None),
            None => {
                let key = rng.random_range(0..ctx.threads);
                let etag = if ctx.conditional > 0.0 && rng.random::<f64>() < ctx.conditional {
                    etags.get(&key).cloned()
                } else {
                    None
                };
                (
                    Kind::Read200,
                    format!("/api/v1/threads/{}/comments", thread_key(&ctx, key)),
                    etag.map(|e| (key, e)),
                )
            }
        };
        let mut req = match request(&ctx, Method::GET, &path, None) {
            Ok(r) => r,
            Err(Failure(f)) => {
                stats.error(kind_ok, f);
                continue;
            }
        };
        if let Some((_, e)) = &etag {
            req.headers_mut().insert(header::IF_NONE_MATCH, e.clone());
        }
        let t = Instant::now();
        let result = conn.send(req).await;
        let elapsed = t.elapsed();
        match result {
            Ok(a) if a.status == StatusCode::OK => {
                stats.record(kind_ok, elapsed);
                stats.outcome(kind_ok, "200".into());
                *stats.bytes.entry(kind_ok).or_default() += a.body.len() as u64;
                if kind_ok == Kind::Read200
                    && let Some(tag) = a.etag
                    && let Some(key) = path_key(&ctx, &path)
                {
                    etags.insert(key, tag);
                }
            }
            Ok(a) if a.status == StatusCode::NOT_MODIFIED => {
                stats.record(Kind::Read304, elapsed);
                stats.outcome(Kind::Read304, "304".into());
            }
            Ok(a) => {
                stats.record(kind_ok, elapsed);
                stats.error(kind_ok, refusal(&a));
            }
            Err(Failure(f)) => {
                stats.record(kind_ok, elapsed);
                stats.error(kind_ok, f);
            }
        }
    }
    stats.reconnects = conn.reconnects;
    stats
}

fn path_key(ctx: &Ctx, path: &str) -> Option<usize> {
    path.strip_prefix("/api/v1/threads/")?
        .strip_suffix("/comments")?
        .strip_prefix(ctx.prefix.as_str())?
        .strip_prefix('-')?
        .parse()
        .ok()
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("cannot read the duration {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {s:?} (use ms, s or m)")),
    };
    let d = Duration::try_from_secs_f64(secs).map_err(|_| format!("bad duration {s:?}"))?;
    if d.is_zero() || d > MAX_DURATION {
        return Err(format!(
            "duration must be between 1 ms and {} s",
            MAX_DURATION.as_secs()
        ));
    }
    Ok(d)
}

/// `http://127.0.0.1:PORT` (or `localhost`, `[::1]`) to a socket address; nothing but loopback.
fn parse_target(target: &str) -> Result<(SocketAddr, String), String> {
    let rest = target
        .strip_prefix("http://")
        .ok_or_else(|| format!("the target must be an http:// URL, got {target:?}"))?;
    let authority = rest.split('/').next().unwrap_or("");
    let addr: SocketAddr = match authority.strip_prefix("localhost:") {
        Some(port) => {
            let port: u16 = port
                .parse()
                .map_err(|_| format!("bad port in {target:?}"))?;
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
        }
        None => authority
            .parse()
            .map_err(|_| format!("the target needs an IP address and a port, got {target:?}"))?,
    };
    if !addr.ip().is_loopback() {
        return Err(format!(
            "refusing to load {addr}: only loopback targets are allowed"
        ));
    }
    Ok((addr, authority.to_string()))
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn report(args: &Args, stats: &Stats, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!(
        "{:<9} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "kind", "count", "per_s", "p50_ms", "p99_ms", "p999_ms", "max_ms", "mean_bytes"
    );
    let mut requests = 0u64;
    for (kind, h) in &stats.latency {
        let n = h.len();
        if kind.is_request() {
            requests += n;
        }
        let mean_bytes = stats.bytes.get(kind).map_or(0, |b| b / n.max(1));
        let (p50, p99, p999, max) = (
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
        );
        println!(
            "{:<9} {:>9} {:>11.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>10}",
            kind.name(),
            n,
            n as f64 / secs,
            ms(p50),
            ms(p99),
            ms(p999),
            ms(max),
            mean_bytes
        );
        println!(
            "RESULT label={} kind={} count={} per_s={:.1} p50_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3} mean_bytes={}",
            args.label,
            kind.name(),
            n,
            n as f64 / secs,
            ms(p50),
            ms(p99),
            ms(p999),
            ms(max),
            mean_bytes
        );
    }
    println!("outcomes:");
    for ((kind, label), n) in &stats.outcomes {
        println!("  {:<9} {:<40} {n}", kind.name(), label);
    }
    println!(
        "elapsed {:.2} s, {} requests ({:.1}/s), {} comments stored ({:.1}/s), {} errors, {} connections opened",
        secs,
        requests,
        requests as f64 / secs,
        stats.stored,
        stats.stored as f64 / secs,
        stats.errors,
        stats.reconnects
    );
    println!(
        "RESULT label={} kind=total elapsed_s={:.3} requests={} requests_per_s={:.1} stored={} stored_per_s={:.1} errors={}",
        args.label,
        secs,
        requests,
        requests as f64 / secs,
        stats.stored,
        stats.stored as f64 / secs,
        stats.errors
    );
    // What a script pays per comment: this process's own CPU (hashing the stamps included),
    // which on a loaded machine is a fairer yardstick than wall-clock throughput.
    if let Some(cpu) = cpu_seconds() {
        println!(
            "RESULT label={} kind=cpu client_cpu_s={:.3} stored_per_cpu_s={:.1}",
            args.label,
            cpu,
            stats.stored as f64 / cpu.max(1e-9)
        );
    }
}

/// User plus system CPU seconds this process has used so far.
fn cpu_seconds() -> Option<f64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Some(secs(u.user_time()) + secs(u.system_time()))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let (addr, authority) = parse_target(&args.target)?;
    let duration = parse_duration(&args.duration)?;
    if args.writers + args.readers == 0 {
        return Err("nothing to do: give --writers and/or --readers".into());
    }
    if args.writers + args.readers > MAX_CLIENTS {
        return Err(format!("at most {MAX_CLIENTS} clients"));
    }
    if args.threads == 0 || args.threads > MAX_THREADS {
        return Err(format!("--threads must be between 1 and {MAX_THREADS}"));
    }
    if args.comments.is_some_and(|c| c > MAX_COMMENTS) {
        return Err(format!("--comments is at most {MAX_COMMENTS}"));
    }
    if !(0.0..=1.0).contains(&args.conditional) {
        return Err("--conditional is a share between 0 and 1".into());
    }
    if !matches!(args.pow.as_str(), "solve" | "skip" | "off") {
        return Err("--pow is solve, skip or off".into());
    }
    if !saring::domain::input::is_valid_thread_key(&format!(
        "{}-{}",
        args.thread_prefix, args.threads
    )) {
        return Err(
            "the thread prefix makes invalid thread keys (letters, digits, -_.: only)".into(),
        );
    }
    let url = match &args.url {
        Some(u) if u.starts_with('/') => Some(u.clone()),
        Some(u) => {
            let (url_addr, url_authority) = parse_target(u)?;
            if url_addr != addr {
                return Err("--url must point at the --target server".into());
            }
            let path = &u["http://".len() + url_authority.len()..];
            Some(if path.is_empty() {
                "/".to_string()
            } else {
                path.to_string()
            })
        }
        None => None,
    };
    let approve = match &args.approve_token {
        Some(t) => Some(
            HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|_| "the token is not a header value")?,
        ),
        None => None,
    };
    let host = HeaderValue::from_str(&authority).map_err(|_| "bad target authority")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.clamp(1, 64))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let started = Instant::now();
        let ctx = Arc::new(Ctx {
            addr,
            host,
            deadline: started + duration,
            threads: args.threads,
            prefix: args.thread_prefix.clone(),
            conditional: args.conditional,
            comment_limit: args.comments,
            tickets: AtomicU64::new(0),
            url,
            approve,
            pow: args.pow.clone(),
        });
        let mut tasks = Vec::with_capacity(args.writers + args.readers);
        for id in 0..args.writers {
            tasks.push(tokio::spawn(writer(ctx.clone(), id)));
        }
        for _ in 0..args.readers {
            tasks.push(tokio::spawn(reader(ctx.clone())));
        }
        let mut total = Stats::default();
        for t in tasks {
            match t.await {
                Ok(s) => total.merge(s),
                Err(e) => total.error(Kind::Flow, format!("client task failed: {e}")),
            }
        }
        let elapsed = started.elapsed();
        println!(
            "loadgen {}: target {} writers {} readers {} threads {} ({}-N){}",
            args.label,
            addr,
            args.writers,
            args.readers,
            args.threads,
            args.thread_prefix,
            ctx.url
                .as_deref()
                .map(|u| format!(" url {u}"))
                .unwrap_or_default()
        );
        report(args, &total, elapsed);
        Ok(())
    })
}
