//! The ceiling for Saring's thread reads: a bare axum 0.8 server answering every GET with one
//! fixed JSON body of a given size, with the same runtime defaults as `saring serve`.
//!
//! Measure it with `examples/loadgen.rs --url /` in the same run as the real server, with the body
//! size the real server's thread pages have:
//!
//! ```text
//! cargo run --release --example bare_axum -- --listen 127.0.0.1:0 --body-bytes 11000
//! ```
//!
//! It prints `bare_axum listening on http://ADDR` once it accepts connections.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use clap::Parser;

/// Largest body it will serve (the thread pages Saring sends are far smaller).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Bare axum server answering a fixed body: the ceiling for Saring's thread reads")]
struct Args {
    /// Address to listen on (loopback only; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Size of the body in bytes (default: a 20-comment Saring thread page of ~300-character
    /// comments, as measured on the real server).
    #[arg(long, default_value_t = 11_000)]
    body_bytes: usize,
}

/// A JSON document of exactly `size` bytes (at least `{"f":""}`), so clients that parse
/// the answer see valid JSON.
fn body_of(size: usize) -> Bytes {
    let mut body = String::from("{\"f\":\"");
    let filler = size.saturating_sub(body.len() + 2);
    body.extend(std::iter::repeat_n('x', filler));
    body.push_str("\"}");
    Bytes::from(body)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "bare_axum: refusing to listen on {}: loopback only",
            args.listen
        );
        return std::process::ExitCode::from(2);
    }
    if args.body_bytes > MAX_BODY_BYTES {
        eprintln!("bare_axum: --body-bytes is at most {MAX_BODY_BYTES}");
        return std::process::ExitCode::from(2);
    }
    let body = body_of(args.body_bytes);
    let app = Router::new().fallback(move || {
        let body = body.clone();
        async move {
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response()
        }
    });
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bare_axum: cannot listen on {}: {e}", args.listen);
            return std::process::ExitCode::from(1);
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!(
            "bare_axum listening on http://{addr} (body {} bytes)",
            args.body_bytes
        ),
        Err(e) => {
            eprintln!("bare_axum: {e}");
            return std::process::ExitCode::from(1);
        }
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    // SIGTERM from the load-test script ends the process the default way, which is what we want.
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("bare_axum: {e}");
        return std::process::ExitCode::from(1);
    }
    std::process::ExitCode::SUCCESS
}
