//! The accept loop: HTTP/1.1 connections with a header-read timeout, an idle timeout, a cap on
//! concurrent connections overall and per client address, and back-pressure that sheds idle
//! connections instead of refusing ordinary readers.
//!
//! `axum::serve` keeps every connection for as long as the client likes and stops accepting when
//! the process runs out of file descriptors, so one client holding a thousand idle sockets made
//! the service unreachable for everyone. Here every connection is registered under its peer
//! address; when a limit is reached the oldest idle connection of the heaviest client is closed
//! to make room, and only when nothing is idle is the newcomer refused, at once, with the API's
//! JSON `503`.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Connection limits and timeouts (the `[connections]` table of `saring.toml`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnLimits {
    /// Seconds a client has to send a request's complete headers, from the moment the
    /// connection (or the previous response) is ready for it.
    pub header_read_seconds: u64,
    /// Seconds a connection may stay open with no request in flight.
    pub idle_seconds: u64,
    /// Seconds a request may take before it is answered `503 unavailable`.
    pub request_seconds: u64,
    /// Concurrent connections overall; lowered at start to fit the file-descriptor limit.
    pub max_connections: usize,
    /// Concurrent connections from one client address (trusted proxies are exempt: they carry
    /// many readers).
    pub max_per_client: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read_seconds: 10,
            idle_seconds: 30,
            request_seconds: 30,
            max_connections: 10_000,
            max_per_client: 64,
        }
    }
}

/// File descriptors kept back from the connection cap for the store, logs, policy files and
/// the accept itself.
const RESERVED_FDS: u64 = 64;

/// Raises the soft file-descriptor limit to the hard limit and returns the soft limit now in
/// force (`None` when it cannot be read, as on non-Unix systems).
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use nix::sys::resource::{Resource, getrlimit, setrlimit};
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
        if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
            return Some(hard);
        }
        Some(soft)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// One registered connection.
struct Conn {
    id: u64,
    /// Requests being answered on it right now; zero means idle (or still sending headers).
    in_flight: AtomicUsize,
    /// Milliseconds since the registry's epoch of the last request's end (or the accept).
    last_active: AtomicU64,
    /// Closes the connection at once.
    kill: Notify,
}

#[derive(Default)]
struct Registry {
    by_client: HashMap<IpAddr, BTreeMap<u64, Arc<Conn>>>,
    total: usize,
    next_id: u64,
}

impl Registry {
    /// Closes the oldest idle connection of `ip`; whether one was found.
    fn shed_from(&mut self, ip: IpAddr) -> bool {
        let Some(conns) = self.by_client.get_mut(&ip) else {
            return false;
        };
        // Ids grow with time, so the first idle one is the oldest.
        let Some(id) = conns
            .values()
            .find(|c| c.in_flight.load(Ordering::Acquire) == 0)
            .map(|c| c.id)
        else {
            return false;
        };
        if let Some(c) = conns.remove(&id) {
            c.kill.notify_one();
            self.total -= 1;
        }
        if conns.is_empty() {
            self.by_client.remove(&ip);
        }
        metrics::counter!("saring_connections_shed_total").increment(1);
        true
    }

    /// Closes the oldest idle connection of the client holding the most, else of anyone.
    fn shed_heaviest(&mut self) -> bool {
        let mut clients: Vec<(usize, IpAddr)> = self
            .by_client
            .iter()
            .map(|(ip, c)| (c.len(), *ip))
            .collect();
        clients.sort_unstable_by_key(|c| std::cmp::Reverse(c.0));
        clients.into_iter().any(|(_, ip)| self.shed_from(ip))
    }

    fn remove(&mut self, ip: IpAddr, id: u64) {
        if let Some(conns) = self.by_client.get_mut(&ip) {
            if conns.remove(&id).is_some() {
                self.total -= 1;
            }
            if conns.is_empty() {
                self.by_client.remove(&ip);
            }
        }
    }
}

/// The shared connection table.
struct Table {
    inner: Mutex<Registry>,
    epoch: Instant,
    max_total: usize,
    max_per_client: usize,
    exempt: Vec<IpNet>,
    /// Signalled whenever a connection ends, for the graceful drain.
    ended: Notify,
}

impl Table {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Registers a new connection from `ip`, shedding idle ones if a cap is reached; `None`
    /// when everything is busy and the newcomer must be refused.
    fn admit(&self, ip: IpAddr) -> Option<Arc<Conn>> {
        let mut reg = self.inner.lock();
        let exempt = self.exempt.iter().any(|n| n.contains(&ip));
        let held = reg.by_client.get(&ip).map_or(0, BTreeMap::len);
        if !exempt && held >= self.max_per_client && !reg.shed_from(ip) {
            return None;
        }
        if reg.total >= self.max_total && !reg.shed_heaviest() {
            return None;
        }
        reg.next_id += 1;
        let conn = Arc::new(Conn {
            id: reg.next_id,
            in_flight: AtomicUsize::new(0),
            last_active: AtomicU64::new(self.now_ms()),
            kill: Notify::new(),
        });
        reg.by_client
            .entry(ip)
            .or_default()
            .insert(conn.id, conn.clone());
        reg.total += 1;
        Some(conn)
    }

    fn total(&self) -> usize {
        self.inner.lock().total
    }

    /// Closes every connection at once; how many there were.
    fn close_all(&self) -> usize {
        let reg = self.inner.lock();
        for conn in reg.by_client.values().flat_map(BTreeMap::values) {
            conn.kill.notify_one();
        }
        reg.total
    }
}

/// Counts a request in flight on its connection for as long as it is being answered.
struct InFlight {
    conn: Arc<Conn>,
    table: Arc<Table>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.conn
            .last_active
            .store(self.table.now_ms(), Ordering::Release);
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a refused connection is told: the API's `503` shape, in the default language (no
/// request has been read, so there is no `Accept-Language` to honour).
fn busy_response() -> Vec<u8> {
    use crate::http::error::ErrorKind;
    let body = serde_json::json!({"error": {
        "code": ErrorKind::Unavailable.code(),
        "message": crate::http::messages::error(ErrorKind::Unavailable, crate::i18n::Lang::Id),
        "retry_after": 1,
    }})
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         cache-control: no-store\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn refuse(mut stream: TcpStream) {
    metrics::counter!("saring_connections_refused_total").increment(1);
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(&busy_response()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Serves `router` on `listener` under `limits` until `stop` is cancelled, then stops
/// accepting, lets the requests in flight finish (idle connections close at once) and returns
/// when every connection has ended, or after `drain`, when the stragglers are closed.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: &ConnLimits,
    exempt: Vec<IpNet>,
    stop: CancellationToken,
    drain: Duration,
) -> std::io::Result<()> {
    let fd_room = raise_fd_limit().map_or(usize::MAX, |soft| {
        soft.saturating_sub(RESERVED_FDS).max(16) as usize
    });
    let max_total = limits.max_connections.min(fd_room).max(1);
    tracing::info!(max_connections = max_total, "connection cap");
    let table = Arc::new(Table {
        inner: Mutex::new(Registry::default()),
        epoch: Instant::now(),
        max_total,
        max_per_client: limits.max_per_client.max(1),
        exempt,
        ended: Notify::new(),
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_read_seconds.max(1)));
    let idle = Duration::from_secs(limits.idle_seconds.max(1));
    let (stop_tx, stop_rx) = watch::channel(false);
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors (or another transient failure): make room by closing
                    // an idle connection, then try again shortly rather than spinning.
                    tracing::warn!(error = %e, "accept failed; shedding an idle connection");
                    table.inner.lock().shed_heaviest();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let ip = peer.ip();
        let Some(conn) = table.admit(ip) else {
            tokio::spawn(refuse(stream));
            continue;
        };
        metrics::gauge!("saring_connections").set(table.total() as f64);
        let _ = stream.set_nodelay(true);
        let (table, router, http, mut stop_rx) =
            (table.clone(), router.clone(), http.clone(), stop_rx.clone());
        tokio::spawn(async move {
            serve_one(
                stream,
                peer,
                conn.clone(),
                &table,
                router,
                &http,
                idle,
                &mut stop_rx,
            )
            .await;
            table.inner.lock().remove(ip, conn.id);
            table.ended.notify_waiters();
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Wait for the connections to close; each was told to finish its request and stop.
    let deadline = tokio::time::Instant::now() + drain;
    loop {
        let ended = table.ended.notified();
        if table.total() == 0 {
            return Ok(());
        }
        if tokio::time::timeout_at(deadline, ended).await.is_err() {
            break;
        }
    }
    let stragglers = table.close_all();
    tracing::warn!(
        stragglers,
        "closed connections still busy at the end of the drain"
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn serve_one(
    stream: TcpStream,
    peer: SocketAddr,
    conn: Arc<Conn>,
    table: &Arc<Table>,
    router: axum::Router,
    http: &hyper::server::conn::http1::Builder,
    idle: Duration,
    stop_rx: &mut watch::Receiver<bool>,
) {
    let service = {
        let (conn, table) = (conn.clone(), table.clone());
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            conn.in_flight.fetch_add(1, Ordering::AcqRel);
            let guard = InFlight {
                conn: conn.clone(),
                table: table.clone(),
            };
            req.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                let response = router.oneshot(req.map(axum::body::Body::new)).await;
                drop(guard);
                response
            }
        })
    };
    let connection = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        let deadline = tokio::time::Instant::from_std(
            table.epoch + Duration::from_millis(conn.last_active.load(Ordering::Acquire)) + idle,
        );
        tokio::select! {
            _ = connection.as_mut() => return,
            () = conn.kill.notified() => return,
            changed = stop_rx.changed(), if !draining => {
                let _ = changed;
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(deadline) => {
                let quiet = table.now_ms()
                    .saturating_sub(conn.last_active.load(Ordering::Acquire));
                if conn.in_flight.load(Ordering::Acquire) == 0 && quiet >= idle.as_millis() as u64 {
                    metrics::counter!("saring_connections_idle_closed_total").increment(1);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(max_total: usize, max_per_client: usize) -> Table {
        Table {
            inner: Mutex::new(Registry::default()),
            epoch: Instant::now(),
            max_total,
            max_per_client,
            exempt: vec!["10.0.0.0/8".parse().unwrap()],
            ended: Notify::new(),
        }
    }

    #[test]
    fn a_client_at_its_cap_loses_its_own_oldest_idle_connection() {
        let t = table(100, 2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let first = t.admit(ip).unwrap();
        let second = t.admit(ip).unwrap();
        second.in_flight.store(1, Ordering::Release);
        let third = t.admit(ip).expect("the oldest idle one makes room");
        assert_eq!(t.total(), 2);
        let reg = t.inner.lock();
        let held: Vec<u64> = reg.by_client[&ip].keys().copied().collect();
        assert_eq!(held, vec![second.id, third.id]);
        assert!(!held.contains(&first.id));
    }

    #[test]
    fn a_client_whose_connections_are_all_busy_is_refused() {
        let t = table(100, 1);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        t.admit(ip).unwrap().in_flight.store(1, Ordering::Release);
        assert!(t.admit(ip).is_none());
        // Another client is not affected.
        assert!(t.admit("192.0.2.2".parse().unwrap()).is_some());
    }

    #[test]
    fn at_the_global_cap_the_heaviest_client_pays() {
        let t = table(4, 10);
        let heavy: IpAddr = "192.0.2.1".parse().unwrap();
        let light: IpAddr = "192.0.2.2".parse().unwrap();
        let light_conn = t.admit(light).unwrap();
        for _ in 0..3 {
            t.admit(heavy).unwrap();
        }
        let newcomer: IpAddr = "192.0.2.3".parse().unwrap();
        assert!(t.admit(newcomer).is_some());
        let reg = t.inner.lock();
        assert_eq!(reg.total, 4);
        assert_eq!(reg.by_client[&heavy].len(), 2);
        assert!(reg.by_client[&light].contains_key(&light_conn.id));
    }

    #[test]
    fn trusted_proxies_are_not_capped_per_client() {
        let t = table(100, 1);
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        for _ in 0..5 {
            t.admit(proxy)
                .unwrap()
                .in_flight
                .store(1, Ordering::Release);
        }
        assert_eq!(t.total(), 5);
    }
}
