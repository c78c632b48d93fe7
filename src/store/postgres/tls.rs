//! TLS to PostgreSQL with libpq's `sslmode` meanings, on rustls.
//!
//! `tokio-postgres` itself knows only `disable`, `prefer` and `require`, and leaves checking the
//! server's certificate to the connector. So the two libpq settings it does not parse, `sslmode`
//! (for `verify-ca` and `verify-full`) and `sslrootcert`, are taken out of the connection string
//! here, and the connector is built to check what each mode promises:
//!
//! | `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default, as in libpq) | when the server offers it | no |
//! | `require` | always | no; with `sslrootcert`, its chain (as libpq does with a root file) |
//! | `verify-ca` | always | its chain, against the CA |
//! | `verify-full` | always | its chain, and that it names the host connected to |
//!
//! The CA is `sslrootcert=/path/to/ca.pem` (PEM, one or more certificates) or, without it or with
//! `sslrootcert=system`, the operating system's trust store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(value: &str) -> Result<Mode, StoreError> {
        Ok(match value {
            "disable" => Mode::Disable,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            // libpq's `allow` tries without TLS first: a downgrade nobody should choose.
            other => {
                return Err(StoreError::Invalid(format!(
                    "sslmode={other:?} is not supported: use disable, prefer, require, \
                     verify-ca or verify-full"
                )));
            }
        })
    }

    /// The name as written in a connection string.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        }
    }

    /// What `tokio-postgres` is told: whether TLS is tried, and whether it is a must.
    pub(crate) fn client_mode(self) -> SslMode {
        match self {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        }
    }
}

/// The TLS part of a connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub(crate) mode: Mode,
    /// `sslrootcert`: a PEM file of trusted CAs; `None` for the system's trust store.
    pub(crate) root_cert: Option<PathBuf>,
}

impl TlsSettings {
    /// Where the trusted CAs come from, for messages.
    pub(crate) fn ca_source(&self) -> String {
        match &self.root_cert {
            Some(p) => p.display().to_string(),
            None => "the system's trust store".into(),
        }
    }
}

/// Takes `sslmode` and `sslrootcert` out of a connection string (a `postgres://` URL or libpq's
/// `key=value` form), returning the rest for `tokio-postgres` and the TLS settings.
pub(crate) fn split_tls(conn: &str) -> Result<(String, TlsSettings), StoreError> {
    let mut mode = None;
    let mut root = None;
    let mut take = |key: &str, value: &str| -> Result<bool, StoreError> {
        match key {
            "sslmode" => mode = Some(Mode::parse(value)?),
            "sslrootcert" => root = Some(value.to_owned()),
            _ => return Ok(false),
        }
        Ok(true)
    };
    let rest = if conn.contains("://") {
        let (before, query) = match conn.split_once('?') {
            Some((b, q)) => (b, q),
            None => (conn, ""),
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .map_err(|_| StoreError::Invalid(format!("{k} is not UTF-8")))?;
            if !take(k, &value)? {
                kept.push(pair);
            }
        }
        if kept.is_empty() {
            before.to_owned()
        } else {
            format!("{before}?{}", kept.join("&"))
        }
    } else {
        // Values with spaces are quoted in this form; ours never need it, and a quoted
        // `sslmode` or `sslrootcert` is left for tokio-postgres to refuse.
        let mut kept = Vec::new();
        for word in conn.split_whitespace() {
            let taken = match word.split_once('=') {
                Some((k, v)) if !v.starts_with('\'') => take(k.trim(), v)?,
                _ => false,
            };
            if !taken {
                kept.push(word);
            }
        }
        kept.join(" ")
    };
    let root_cert = match root.as_deref() {
        None | Some("") | Some("system") => None,
        Some(p) => Some(PathBuf::from(p)),
    };
    Ok((
        rest,
        TlsSettings {
            mode: mode.unwrap_or(Mode::Prefer),
            root_cert,
        },
    ))
}

/// The connector for `settings`. The ring provider is named rather than taken from the process
/// default, since KurrentDB's client compiles a second one in and rustls then picks none.
pub(crate) fn connector(settings: &TlsSettings) -> Result<MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (settings.mode, &settings.root_cert) {
        (Mode::Disable | Mode::Prefer, _) | (Mode::Require, None) => Arc::new(Unchecked {
            algorithms: provider.signature_verification_algorithms,
        }),
        (Mode::Require | Mode::VerifyCa, _) => Arc::new(ChainOnly(webpki(settings, &provider)?)),
        (Mode::VerifyFull, _) => webpki(settings, &provider)?,
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Invalid(format!("TLS settings: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// rustls's standard verifier (chain and name) over the configured CAs.
fn webpki(
    settings: &TlsSettings,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, StoreError> {
    let roots = match &settings.root_cert {
        Some(path) => roots_from_file(path)?,
        None => system_roots()?,
    };
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| StoreError::Invalid(format!("the CAs for PostgreSQL: {e}")))
}

/// The certificates of a PEM file, refused with the file's name when there are none.
fn roots_from_file(path: &Path) -> Result<RootCertStore, StoreError> {
    let bad = |why: String| {
        StoreError::Invalid(format!(
            "sslrootcert {}: {why}; it must be a PEM file of CA certificates",
            path.display()
        ))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, StoreError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(StoreError::Invalid(
            "no CA certificate in the system's trust store to check PostgreSQL's certificate: \
             name one with sslrootcert=/path/to/ca.pem"
                .into(),
        ));
    }
    Ok(roots)
}

/// `verify-ca`: the chain must lead to a trusted CA; the name in it is not compared with the
/// host (libpq's meaning, for servers reached by an address their certificate does not name).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without a CA: encrypted against eavesdropping, but any certificate is
/// taken (libpq's meaning). The handshake's signatures are still checked, so the session is
/// bound to the certificate the server showed.
#[derive(Debug)]
struct Unchecked {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The certificate error inside a connection error, if the TLS handshake refused the server.
pub(crate) fn certificate_refusal(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(tls.to_string());
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_keys_are_taken_out_of_either_form() {
        let (rest, tls) =
            split_tls("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&x=1")
                .expect("url");
        assert_eq!(rest, "postgres://u@h/db?x=1");
        assert_eq!(tls.mode, Mode::VerifyFull);
        assert_eq!(tls.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));

        let (rest, tls) =
            split_tls("host=h user=u sslmode=verify-ca sslrootcert=/ca.pem").expect("key=value");
        assert_eq!(rest, "host=h user=u");
        assert_eq!(tls.mode, Mode::VerifyCa);

        let (rest, tls) = split_tls("postgres://u@h/db").expect("plain");
        assert_eq!(
            (rest.as_str(), tls.mode),
            ("postgres://u@h/db", Mode::Prefer)
        );
        let (_, tls) = split_tls("postgres://u@h/db?sslrootcert=system").expect("system");
        assert_eq!(tls.root_cert, None);
    }

    #[test]
    fn unknown_modes_and_missing_files_are_refused_by_name() {
        match split_tls("postgres://u@h/db?sslmode=allow") {
            Err(StoreError::Invalid(m)) => {
                assert!(m.contains("allow") && m.contains("verify-full"))
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let settings = TlsSettings {
            mode: Mode::VerifyFull,
            root_cert: Some(PathBuf::from("/nonexistent/saring-ca.pem")),
        };
        match connector(&settings) {
            Err(StoreError::Invalid(m)) => assert!(m.contains("/nonexistent/saring-ca.pem"), "{m}"),
            Err(other) => panic!("expected the file named, got {other:?}"),
            Ok(_) => panic!("a missing CA file was accepted"),
        }
    }
}
