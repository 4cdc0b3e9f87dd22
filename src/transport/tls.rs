//! TLS client configuration, built once per process from `--ca-cert` / `SSL_CERT_FILE` (more
//! trusted roots) and `--insecure` (no verification), and TLS handshake failures explained.
//!
//! The bundled Mozilla roots (webpki-roots) are always trusted, so a `scratch` image needs no
//! system store. A failure says why in words a user can act on: unknown issuer, a name
//! mismatch (with the names the certificate has), expired or not yet valid (with the date), or
//! an answer that is not TLS at all (plain HTTP on a TLS port).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// Largest CA file read (a system bundle is about 200 KiB).
const MAX_CA_FILE: u64 = 16 << 20;

/// The one warning `--insecure` prints.
pub const INSECURE_WARNING: &str =
    "warning: --insecure: TLS certificates are not verified, so any \
    server can pose as the target; use it only against a test stack";

/// Where trusted roots and verification come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM files of extra trusted roots, each with where it was named (`--ca-cert`, `SSL_CERT_FILE`).
    pub ca_files: Vec<(PathBuf, &'static str)>,
    /// Accept any certificate (`--insecure`).
    pub insecure: bool,
}

static CONFIG: OnceLock<(TlsOptions, Arc<ClientConfig>)> = OnceLock::new();

/// Builds the configuration from `opts` and makes it this process's, before the first TLS
/// connection. Default options need no call. Errors name the file and the flag or variable.
pub fn configure(opts: &TlsOptions) -> Result<(), String> {
    let config = Arc::new(build(opts)?);
    let (set, _) = CONFIG.get_or_init(|| (opts.clone(), config));
    if set != opts {
        return Err("the TLS options cannot change within one process".into());
    }
    Ok(())
}

/// The process's TLS client configuration (the bundled roots unless `configure` said more).
pub fn config() -> Arc<ClientConfig> {
    CONFIG
        .get_or_init(|| {
            let opts = TlsOptions::default();
            // Without files there is nothing that can fail but the protocol versions, which the
            // ring provider supports.
            let config = build(&opts).expect("the default TLS configuration builds");
            (opts, Arc::new(config))
        })
        .1
        .clone()
}

/// A client configuration for `opts`.
pub fn build(opts: &TlsOptions) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    if opts.insecure {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth());
    }
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for (path, source) in &opts.ca_files {
        add_roots(&mut roots, path, source)?;
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// Adds every certificate of a PEM file to `roots`; the count added.
fn add_roots(roots: &mut RootCertStore, path: &Path, source: &str) -> Result<usize, String> {
    let at = || format!("{source} {}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", at()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", at()));
    }
    if meta.len() > MAX_CA_FILE {
        return Err(format!("{}: larger than 16 MiB, not a CA file", at()));
    }
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", at()))?;
    let mut added = 0;
    for (i, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let cert =
            cert.map_err(|e| format!("{}: certificate {} is not valid PEM: {e}", at(), i + 1))?;
        roots.add(cert).map_err(|e| {
            format!(
                "{}: certificate {} cannot be a trusted root: {e}",
                at(),
                i + 1
            )
        })?;
        added += 1;
    }
    if added == 0 {
        return Err(format!(
            "{}: no PEM certificate in it (a -----BEGIN CERTIFICATE----- block)",
            at()
        ));
    }
    Ok(added)
}

/// `--insecure`: any certificate is accepted; the handshake's signatures are still checked
/// (they prove the server holds the key of the certificate it sent).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why a TLS handshake failed, in words a user can act on.
pub fn explain(e: &io::Error) -> String {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                "the server closed the connection during the TLS handshake (is this a TLS port?)"
                    .into()
            }
            _ => format!("TLS handshake failed: {e}"),
        };
    };
    match tls {
        rustls::Error::InvalidCertificate(c) => certificate(c),
        rustls::Error::InvalidMessage(_) => {
            "the server did not answer in TLS (plain HTTP on a TLS \
            port? use http:// or ws:// for a plain port)"
                .into()
        }
        rustls::Error::AlertReceived(alert) => {
            format!("the server ended the handshake with the TLS alert {alert:?}")
        }
        rustls::Error::PeerIncompatible(why) => {
            format!("no TLS version or cipher suite in common with the server ({why:?})")
        }
        other => format!("TLS handshake failed: {other}"),
    }
}

fn certificate(c: &CertificateError) -> String {
    const TRUST: &str = "add its CA with --ca-cert FILE, or use --insecure against a test stack";
    match c {
        CertificateError::UnknownIssuer => {
            format!("certificate not trusted: unknown issuer ({TRUST})")
        }
        CertificateError::NotValidForName => "certificate name mismatch".into(),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "certificate name mismatch: it is for {}, not {}",
            names(presented),
            expected.to_str()
        ),
        CertificateError::Expired => "certificate expired".into(),
        CertificateError::ExpiredContext { time, not_after } => format!(
            "certificate expired: valid until {} (now {})",
            date(*not_after),
            date(*time)
        ),
        CertificateError::NotValidYet => "certificate not valid yet".into(),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "certificate not valid yet: valid from {} (now {})",
            date(*not_before),
            date(*time)
        ),
        CertificateError::Revoked => "certificate revoked".into(),
        CertificateError::BadSignature => "certificate has a bad signature".into(),
        other => format!("certificate rejected: {other:?}"),
    }
}

/// The names a certificate has, as rustls lists them (`DnsName("a.test")`, `IpAddress(10.0.0.1)`),
/// plainly: `a.test, 10.0.0.1`; at most 5.
fn names(presented: &[String]) -> String {
    if presented.is_empty() {
        return "no name".into();
    }
    let plain = |n: &String| {
        let inner = n
            .strip_prefix("DnsName(\"")
            .and_then(|r| r.strip_suffix("\")"))
            .or_else(|| {
                n.strip_prefix("IpAddress(")
                    .and_then(|r| r.strip_suffix(')'))
            });
        inner.unwrap_or(n).to_string()
    };
    let mut text: Vec<String> = presented.iter().take(5).map(plain).collect();
    if presented.len() > 5 {
        text.push(format!("and {} more", presented.len() - 5));
    }
    text.join(", ")
}

/// `2020-01-02T00:00:00Z` (UTC, whole seconds).
fn date(t: UnixTime) -> String {
    let text = crate::scenario::template::iso8601(t.as_secs(), 0);
    text.replace(".000Z", "Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_files_are_checked_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let opts = |p: &Path| TlsOptions {
            ca_files: vec![(p.to_path_buf(), "--ca-cert")],
            insecure: false,
        };
        let e = build(&opts(&missing)).unwrap_err();
        assert!(
            e.starts_with("--ca-cert ") && e.contains("missing.pem"),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        let e = build(&opts(&empty)).unwrap_err();
        assert!(e.contains("no PEM certificate"), "{e}");
        let e = build(&opts(dir.path())).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        assert!(build(&TlsOptions::default()).is_ok());
        assert!(build(&TlsOptions {
            insecure: true,
            ..TlsOptions::default()
        })
        .is_ok());
    }

    #[test]
    fn failures_are_explained() {
        let wrap = |e: rustls::Error| io::Error::new(io::ErrorKind::InvalidData, e);
        let e = wrap(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert!(explain(&e).contains("unknown issuer"), "{}", explain(&e));
        let e = wrap(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        assert!(explain(&e).contains("plain HTTP on a TLS port"));
        let e = wrap(rustls::Error::InvalidCertificate(
            CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
                not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                    1_577_836_800,
                )),
            },
        ));
        assert_eq!(
            explain(&e),
            "certificate expired: valid until 2020-01-01T00:00:00Z (now 2023-11-14T22:13:20Z)"
        );
        let e = wrap(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("api.example.test").unwrap(),
                presented: vec![
                    "DnsName(\"other.test\")".into(),
                    "IpAddress(10.0.0.1)".into(),
                ],
            },
        ));
        assert_eq!(
            explain(&e),
            "certificate name mismatch: it is for other.test, 10.0.0.1, not api.example.test"
        );
        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "eof");
        assert!(explain(&eof).contains("is this a TLS port"));
    }
}
