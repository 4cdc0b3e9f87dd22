//! TLS against servers with certificates made here (rcgen): a CA of our own, trusted only with
//! `--ca-cert` (or its variables); `--insecure` with its one warning; each refusal explained —
//! unknown issuer, name mismatch, expired, plain HTTP on a TLS port — and a WSS upgrade.
//!
//! The TLS options are per process, so every case runs the real binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::raw::{login_ok, login_scenario, login_step, run_binary, Ran, RawServer};
use crate::util::*;

/// Our test CA.
struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new() -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(DnType::CommonName, "load-tester test CA");
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        Ca(CertifiedIssuer::self_signed(p, KeyPair::generate().expect("key")).expect("CA"))
    }

    /// A server certificate for `names`, valid in `years` (from, to) when given.
    fn issue(&self, names: &[&str], years: Option<(i32, i32)>) -> rustls::ServerConfig {
        let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("leaf params");
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if let Some((from, to)) = years {
            p.not_before = rcgen::date_time_ymd(from, 1, 1);
            p.not_after = rcgen::date_time_ymd(to, 1, 1);
        }
        let key = KeyPair::generate().expect("key");
        let cert = p.signed_by(&key, &self.0).expect("leaf");
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config")
    }

    /// Writes the CA certificate (after an unrelated block, as a bundle would have) to `dir`.
    fn pem_file(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        let other = Ca::new();
        std::fs::write(&path, format!("{}{}", other.0.pem(), self.0.pem())).expect("write CA");
        path
    }
}

/// An HTTPS server: TLS with `config`, then `handler` on the decrypted stream.
fn https<F>(config: rustls::ServerConfig, handler: F) -> RawServer
where
    F: Fn(&mut rustls::StreamOwned<rustls::ServerConnection, TcpStream>) + Send + Sync + 'static,
{
    let config = Arc::new(config);
    RawServer::start(move |tcp| {
        let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
            return;
        };
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        handler(&mut tls);
        tls.conn.send_close_notify();
        let _ = tls.flush();
    })
}

fn login_server(config: rustls::ServerConfig) -> RawServer {
    https(config, |s| {
        let _ = login_ok(s);
    })
}

/// A login-only scenario against the auth URL.
fn login_only(dir: &Path) -> PathBuf {
    login_scenario(dir, "tls-login", "a@example.test", r#"http.timeout = "5s""#)
}

/// Probes `https://127.0.0.1:PORT` with `flags` and `env`; the run and its only error's cause.
fn probe(server: &RawServer, flags: &[&str], env: &[(&str, &str)]) -> (Ran, Option<String>) {
    let dir = tempdir();
    let path = login_only(dir.path());
    let out = dir.path().join("r.json");
    let url = format!("https://127.0.0.1:{}", server.port);
    let mut args = vec![
        "probe",
        path.to_str().unwrap(),
        "--target",
        &url,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    let ran = run_binary(&args, env);
    let cause = std::fs::read_to_string(&out).ok().and_then(|_| {
        let r = read_results(&out);
        let e = r.errors.first()?;
        assert_eq!(
            (e.kind.as_str(), e.phase.as_str()),
            ("tls", "tls"),
            "{:#?}",
            r.errors
        );
        e.causes.first().map(|c| c.cause.clone())
    });
    (ran, cause)
}

fn origin(server: &RawServer) -> String {
    format!("https://127.0.0.1:{}", server.port)
}

#[test]
fn our_ca_is_unknown_until_trusted_with_ca_cert_or_its_variables() {
    let ca = Ca::new();
    let server = login_server(ca.issue(&["127.0.0.1"], None));
    let (ran, cause) = probe(&server, &[], &[]);
    assert_eq!(
        ran.code,
        Some(3),
        "unreachable: {}{}",
        ran.stdout,
        ran.stderr
    );
    assert_eq!(
        cause.as_deref(),
        Some(
            format!(
                "{}: certificate not trusted: unknown issuer (add its CA with --ca-cert FILE, \
                 or use --insecure against a test stack)",
                origin(&server)
            )
            .as_str()
        )
    );

    let dir = tempdir();
    let pem = ca.pem_file(dir.path());
    let pem = pem.to_str().unwrap();
    let (ran, cause) = probe(&server, &["--ca-cert", pem], &[]);
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    assert_eq!(cause, None);
    assert!(ran.stdout.contains("PASS  login"), "{}", ran.stdout);
    for var in ["LOAD_TESTER_CA_CERT", "SSL_CERT_FILE"] {
        let (ran, _) = probe(&server, &[], &[(var, pem)]);
        assert_eq!(ran.code, Some(0), "{var}: {}{}", ran.stdout, ran.stderr);
    }

    let missing = dir.path().join("missing.pem");
    let (ran, _) = probe(&server, &["--ca-cert", missing.to_str().unwrap()], &[]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.starts_with("error: --ca-cert ") && ran.stderr.contains("missing.pem"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_certificate_for_another_name_is_a_name_mismatch() {
    let ca = Ca::new();
    let server = login_server(ca.issue(&["other.example.test"], None));
    let dir = tempdir();
    let pem = ca.pem_file(dir.path());
    let (ran, cause) = probe(&server, &["--ca-cert", pem.to_str().unwrap()], &[]);
    assert_eq!(ran.code, Some(3), "{}{}", ran.stdout, ran.stderr);
    assert_eq!(
        cause,
        Some(format!(
            "{}: certificate name mismatch: it is for other.example.test, not 127.0.0.1",
            origin(&server)
        ))
    );
}

#[test]
fn an_expired_certificate_says_until_when() {
    let ca = Ca::new();
    let server = login_server(ca.issue(&["127.0.0.1"], Some((2019, 2020))));
    let dir = tempdir();
    let pem = ca.pem_file(dir.path());
    let (ran, cause) = probe(&server, &["--ca-cert", pem.to_str().unwrap()], &[]);
    assert_eq!(ran.code, Some(3), "{}{}", ran.stdout, ran.stderr);
    let cause = cause.expect("a TLS error");
    assert!(
        cause.starts_with(&format!(
            "{}: certificate expired: valid until 2020-01-01T00:00:00Z (now 20",
            origin(&server)
        )),
        "{cause}"
    );
}

#[test]
fn insecure_accepts_any_certificate_and_warns_once() {
    let ca = Ca::new();
    let server = login_server(ca.issue(&["other.example.test"], None));
    for (flags, env) in [
        (&["--insecure"][..], &[][..]),
        (&[][..], &[("LOAD_TESTER_INSECURE", "1")][..]),
    ] {
        let (ran, cause) = probe(&server, flags, env);
        assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
        assert_eq!(cause, None);
        assert_eq!(
            ran.stderr.matches("warning: --insecure").count(),
            1,
            "{}",
            ran.stderr
        );
        assert!(ran.stderr.contains("TLS certificates are not verified"));
    }
}

#[test]
fn plain_http_on_a_tls_port_is_named() {
    let server = RawServer::start(|mut s: TcpStream| {
        let mut hello = [0u8; 512];
        if s.read(&mut hello).is_ok() {
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let (ran, cause) = probe(&server, &[], &[]);
    assert_eq!(ran.code, Some(3), "{}{}", ran.stdout, ran.stderr);
    assert_eq!(
        cause,
        Some(format!(
            "{}: the server did not answer in TLS (plain HTTP on a TLS port? use http:// or \
             ws:// for a plain port)",
            origin(&server)
        ))
    );
}

/// Login over HTTPS, then a WSS upgrade and a close, all trusted through `--ca-cert`.
#[test]
fn wss_upgrades_through_the_same_tls_configuration() {
    use tokio_tungstenite::tungstenite;
    let ca = Ca::new();
    let server = https(ca.issue(&["127.0.0.1"], None), |s| {
        let mut head = [0u8; 4];
        // The first bytes tell the two requests apart: a login POST or the upgrade GET.
        if s.read_exact(&mut head).is_err() {
            return;
        }
        if &head == b"POST" {
            let mut rest = Prefixed(&head, s);
            let _ = login_ok(&mut rest);
            return;
        }
        let Ok(mut ws) = tungstenite::accept(Prefixed(&head, s)) else {
            return;
        };
        while let Ok(m) = ws.read() {
            if m.is_close() {
                let _ = ws.flush();
                break;
            }
        }
    });
    let dir = tempdir();
    let path = scenario(
        dir.path(),
        "wss.toml",
        &format!(
            "\nname = \"wss\"\n{}",
            login_step(
                "a@example.test",
                r#"[[steps]]
name = "connect"
ws.connect = "{{ws_url}}/ws"
ws.headers = { Authorization = "Bearer {{token}}" }
[[steps]]
name = "close"
ws.close = true
"#,
            )
        ),
    );
    let pem = ca.pem_file(dir.path());
    let url = origin(&server);
    let ran = run_binary(
        &[
            "probe",
            path.to_str().unwrap(),
            "--target",
            &url,
            "--ca-cert",
            pem.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    for step in ["login", "connect", "close"] {
        assert!(
            ran.stdout.contains(&format!("PASS  {step}")),
            "{}",
            ran.stdout
        );
    }
}

/// A stream with bytes already read put back in front.
struct Prefixed<'a, S>(&'a [u8], &'a mut S);

impl<S: Read> Read for Prefixed<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() {
            return self.1.read(buf);
        }
        let n = self.0.len().min(buf.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

impl<S: Write> Write for Prefixed<'_, S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.1.flush()
    }
}
