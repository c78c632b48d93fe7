//! TLS to PostgreSQL for real: a throw-away cluster with `ssl=on`, a CA and a server certificate
//! for `localhost` made at setup (`PG_SSL=1 scripts/pg-throwaway.sh start`), and a server that
//! refuses unencrypted connections, so every success below went over TLS. `verify-full` against
//! the CA works; a wrong CA, or a host the certificate does not name, is refused at start with
//! a message naming the mode and the CA.
//!
//! Uses the server of `SARING_TEST_PG` when `SARING_TEST_PG_CA` says it was started with TLS;
//! otherwise, when `SARING_TEST_PG` says PostgreSQL is installed, starts its own cluster.

use std::process::Command;

use saring::store::postgres::PostgresStore;
use saring::store::{EventStore, ExpectedRevision, NewEvent, StoreError};

use crate::helpers::manifest_dir;
use crate::replica::*;

/// A PostgreSQL server with TLS: its port, the CA that signed it, an unrelated CA.
struct TlsServer {
    port: u16,
    ca: String,
    other_ca: String,
    /// The cluster this test started (and stops), if it did.
    own_dir: Option<String>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(dir) = &self.own_dir {
            let _ = Command::new(manifest_dir().join("scripts/pg-throwaway.sh"))
                .args(["stop", dir])
                .status();
        }
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("a port in the URL")
}

fn tls_server() -> Option<TlsServer> {
    let Ok(url) = std::env::var("SARING_TEST_PG") else {
        eprintln!(
            "SKIPPED: TLS to PostgreSQL: set SARING_TEST_PG (PostgreSQL installed) to run it"
        );
        return None;
    };
    if let (Ok(ca), Ok(other_ca)) = (
        std::env::var("SARING_TEST_PG_CA"),
        std::env::var("SARING_TEST_PG_OTHER_CA"),
    ) {
        return Some(TlsServer {
            port: port_of(&url),
            ca,
            other_ca,
            own_dir: None,
        });
    }
    let out = Command::new(manifest_dir().join("scripts/pg-throwaway.sh"))
        .arg("start")
        .env("PG_SSL", "1")
        .env_remove("PG_PORT")
        .output()
        .expect("run scripts/pg-throwaway.sh");
    assert!(
        out.status.success(),
        "PG_SSL=1 scripts/pg-throwaway.sh start failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exports = String::from_utf8_lossy(&out.stdout).to_string();
    let var = |name: &str| {
        exports
            .split(';')
            .find_map(|part| part.trim().strip_prefix(&format!("export {name}=")))
            .map(|v| v.trim_matches('\'').to_string())
            .unwrap_or_else(|| panic!("{name} in {exports}"))
    };
    Some(TlsServer {
        port: port_of(&var("SARING_TEST_PG")),
        ca: var("SARING_TEST_PG_CA"),
        other_ca: var("SARING_TEST_PG_OTHER_CA"),
        own_dir: Some(var("PG_THROWAWAY_DIR")),
    })
}

fn url(host: &str, port: u16, db: &str, query: &str) -> String {
    format!("postgres://saring@{host}:{port}/{db}?{query}")
}

fn event() -> NewEvent {
    NewEvent::new("TlsChecked", serde_json::json!({ "over": "tls" }))
}

async fn refusal(conn: &str) -> String {
    match PostgresStore::connect(conn).await {
        Err(StoreError::Invalid(m)) => m,
        Err(other) => panic!("{conn}: expected a configuration error, got {other}"),
        Ok(_) => panic!("{conn}: connected although it must be refused"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_connects_over_tls_and_a_wrong_ca_is_refused() {
    let _gate = PG_GATE.read().await;
    let Some(server) = tls_server() else {
        return;
    };
    let port = server.port;
    let trusted = format!("sslmode=verify-full&sslrootcert={}", server.ca);
    let db = saring::store::postgres::create_test_database(&url(
        "localhost",
        port,
        "postgres",
        &trusted,
    ))
    .await
    .expect("a test database over verify-full");
    let db_name = db
        .split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .map(|(_, name)| name.to_string())
        .expect("a database name");

    // verify-full against the CA that signed the certificate: the whole store works.
    let store = PostgresStore::connect(&url("localhost", port, &db_name, &trusted))
        .await
        .expect("verify-full with the right CA connects");
    store
        .append("tls-1", ExpectedRevision::NoStream, vec![event()])
        .await
        .expect("append over TLS");
    let read = store
        .read_stream("tls-1", 0, 10)
        .await
        .expect("read over TLS");
    assert_eq!(read.len(), 1);
    store.close().await;

    // The server takes no unencrypted connection, so the success above was TLS.
    let m = match PostgresStore::connect(&url("localhost", port, &db_name, "sslmode=disable")).await
    {
        Err(e) => format!("{e:?}"),
        Ok(_) => panic!("the test server must refuse connections without TLS"),
    };
    assert!(m.contains("no encryption") || m.contains("pg_hba"), "{m}");

    // A CA that did not sign the server's certificate.
    let m = refusal(&url(
        "localhost",
        port,
        &db_name,
        &format!("sslmode=verify-full&sslrootcert={}", server.other_ca),
    ))
    .await;
    assert!(
        m.contains("sslmode=verify-full") && m.contains(&server.other_ca),
        "{m}"
    );
    assert!(
        m.to_lowercase().contains("unknownissuer") || m.to_lowercase().contains("unknown issuer"),
        "{m}"
    );

    // The certificate names localhost, not 127.0.0.1: verify-full refuses the address, while
    // verify-ca (chain only) and require (encryption only) connect.
    let m = refusal(&url(
        "127.0.0.1",
        port,
        &db_name,
        &format!("sslmode=verify-full&sslrootcert={}", server.ca),
    ))
    .await;
    assert!(
        m.contains("sslmode=verify-full") && m.to_lowercase().contains("name"),
        "{m}"
    );
    for query in [
        format!("sslmode=verify-ca&sslrootcert={}", server.ca),
        "sslmode=require".to_string(),
    ] {
        let store = PostgresStore::connect(&url("127.0.0.1", port, &db_name, &query))
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        assert_eq!(
            store.read_stream("tls-1", 0, 10).await.expect("read").len(),
            1
        );
        store.close().await;
    }
    // verify-ca still checks the chain.
    let m = refusal(&url(
        "127.0.0.1",
        port,
        &db_name,
        &format!("sslmode=verify-ca&sslrootcert={}", server.other_ca),
    ))
    .await;
    assert!(m.contains("sslmode=verify-ca"), "{m}");

    // The service itself: it serves over verify-full, and with the wrong CA it stops at start
    // with the reason rather than answering 503 forever.
    let dir = tempfile::tempdir().expect("temporary folder");
    let replica = Replica::start(
        &url("localhost", port, &db_name, &trusted),
        &dir.path().join("ok"),
        None,
    );
    let (status, _) = replica.app.get("/readyz").await;
    assert!(status.is_success(), "{status}");
    drop(replica);
    let wrong = url(
        "localhost",
        port,
        &db_name,
        &format!("sslmode=verify-full&sslrootcert={}", server.other_ca),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_saring"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("wrong"))
        .arg("--policies")
        .arg(manifest_dir().join("policies"))
        .arg("--store")
        .arg(&wrong)
        .env("SARING_CONFIG", "/dev/null")
        .output()
        .expect("run saring");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("certificate was refused") && stderr.contains(&server.other_ca),
        "{stderr}"
    );
}
