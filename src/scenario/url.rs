//! One URL check for every place a URL comes from: scenario, flag, env var, and the transport at
//! run time (a URL rendered from a variable).
//!
//! It accepts exactly what the client can use — the expected scheme pair, a host, a port in
//! 1..=65535, no whitespace or control characters — and refuses credentials (`user:pass@`). It is
//! pure and allocates only for the credentials message. Its messages never contain the URL: a URL
//! may come from an environment variable holding a secret; only a port written in digits and the
//! user name of refused credentials (`user:***@`) are shown.

use std::net::Ipv6Addr;

/// Which kind of URL a place takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `http://` or `https://`.
    Http,
    /// `ws://` or `wss://`.
    Ws,
}

impl Kind {
    /// The (plain, secure) scheme prefixes.
    pub fn schemes(self) -> (&'static str, &'static str) {
        match self {
            Kind::Http => ("http://", "https://"),
            Kind::Ws => ("ws://", "wss://"),
        }
    }

    /// For messages: `http:// or https://`.
    pub fn expected(self) -> &'static str {
        match self {
            Kind::Http => "http:// or https://",
            Kind::Ws => "ws:// or wss://",
        }
    }
}

/// A checked URL, borrowing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Url<'a> {
    /// `https` / `wss`.
    pub tls: bool,
    /// The host name or address (an IPv6 address without its brackets).
    pub host: &'a str,
    /// The port written, or the scheme's default (80, 443).
    pub port: u16,
    /// `host[:port]` as written (for the `host` header).
    pub authority: &'a str,
    /// Path and query, `/` when empty; the fragment is dropped.
    pub path: &'a str,
}

/// Why a URL cannot be used. The messages read after the URL's name, e.g. "--target has port
/// 99999, outside 1..=65535".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not one of the expected schemes.
    #[error("must be an absolute URL starting with {expected}")]
    Scheme { expected: &'static str },
    /// A space, tab, line break or other control character.
    #[error("contains whitespace or a control character (at byte {at})")]
    Whitespace { at: usize },
    /// `user:pass@` in the authority; `shown` is `user:***@` (or `***@`).
    #[error(
        "holds credentials ({shown}), which are refused in URLs (they would be printed and \
         logged): send them in a header instead, e.g. Authorization = \"Basic ...\" or \
         \"Bearer {{{{env.TOKEN}}}}\" in http.headers / ws.headers"
    )]
    Credentials { shown: String },
    /// Nothing between the scheme and the path.
    #[error("has no host after the scheme (e.g. localhost:8000)")]
    NoHost,
    /// A host with characters no host name or address has.
    #[error(
        "has an invalid host: use a name of letters, digits, '-' and '.', an IPv4 address, or an \
         IPv6 address in brackets ([::1])"
    )]
    BadHost,
    /// `host:` with nothing after the colon.
    #[error("has an empty port after ':'")]
    EmptyPort,
    /// A port that is not a number.
    #[error("has a port that is not a number")]
    PortNotNumber,
    /// A port outside 1..=65535 (`port` as written, digits only).
    #[error("has port {port}, outside 1..=65535")]
    PortRange { port: String },
}

/// Checks `url` for `kind` and splits it.
pub fn check(url: &str, kind: Kind) -> Result<Url<'_>, UrlError> {
    if let Some(at) = url.find(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::Whitespace { at });
    }
    let (plain, secure) = kind.schemes();
    let (tls, rest) = match (url.strip_prefix(plain), url.strip_prefix(secure)) {
        (Some(r), _) => (false, r),
        (None, Some(r)) => (true, r),
        (None, None) => {
            return Err(UrlError::Scheme {
                expected: kind.expected(),
            })
        }
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if let Some(at) = authority.rfind('@') {
        return Err(UrlError::Credentials {
            shown: redact(&authority[..at]),
        });
    }
    let (host, port) = split_host_port(authority)?;
    let port = match port {
        None => {
            if tls {
                443
            } else {
                80
            }
        }
        Some(p) => parse_port(p)?,
    };
    let path = path.split_once('#').map_or(path, |(p, _)| p);
    let path = if path.is_empty() { "/" } else { path };
    Ok(Url {
        tls,
        host,
        port,
        authority,
        path,
    })
}

/// Checks only the scheme of a URL's first characters (a template whose rest is not known yet):
/// `prefix` must start with a scheme of `kind`, or be the start of one (`ht`).
pub fn check_scheme_prefix(prefix: &str, kind: Kind) -> Result<(), UrlError> {
    let (plain, secure) = kind.schemes();
    let ok = [plain, secure]
        .iter()
        .any(|s| prefix.starts_with(s) || s.starts_with(prefix));
    if ok {
        Ok(())
    } else {
        Err(UrlError::Scheme {
            expected: kind.expected(),
        })
    }
}

/// `user:***@` for `user:password`, `***@` for a bare user (often a token).
fn redact(userinfo: &str) -> String {
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***@"),
        None => "***@".to_owned(),
    }
}

/// Splits `host[:port]` / `[v6][:port]` and checks the host.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UrlError> {
    if authority.is_empty() {
        return Err(UrlError::NoHost);
    }
    if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or(UrlError::BadHost)?;
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err(UrlError::BadHost);
        }
        return match after {
            "" => Ok((addr, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((addr, Some(port))),
                None => Err(UrlError::BadHost),
            },
        };
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    let host_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if !host.chars().all(host_char) || host.starts_with('.') {
        return Err(UrlError::BadHost);
    }
    Ok((host, port))
}

fn parse_port(text: &str) -> Result<u16, UrlError> {
    if text.is_empty() {
        return Err(UrlError::EmptyPort);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::PortNotNumber);
    }
    match text.parse::<u16>() {
        Ok(p) if p >= 1 => Ok(p),
        _ => Err(UrlError::PortRange {
            // Digits only, and at most a few of them shown.
            port: text.chars().take(12).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str, kind: Kind) -> (bool, String, u16, String, String) {
        let u = check(url, kind).unwrap_or_else(|e| panic!("{url}: {e}"));
        (
            u.tls,
            u.host.to_owned(),
            u.port,
            u.authority.to_owned(),
            u.path.to_owned(),
        )
    }

    #[test]
    fn splits_good_urls() {
        let s = |x: &str| x.to_owned();
        assert_eq!(
            ok("http://localhost:8000", Kind::Http),
            (false, s("localhost"), 8000, s("localhost:8000"), s("/"))
        );
        assert_eq!(
            ok("https://api.example.test/v1/x?a=b#frag", Kind::Http),
            (
                true,
                s("api.example.test"),
                443,
                s("api.example.test"),
                s("/v1/x?a=b")
            )
        );
        assert_eq!(
            ok("ws://[::1]:9/ws", Kind::Ws),
            (false, s("::1"), 9, s("[::1]:9"), s("/ws"))
        );
        assert_eq!(ok("wss://10.0.0.1", Kind::Ws).2, 443);
        assert_eq!(ok("http://my_host.local:65535?x", Kind::Http).4, "?x");
    }

    #[test]
    fn refuses_impossible_urls() {
        let http = |u: &str| check(u, Kind::Http).unwrap_err();
        assert_eq!(
            http("ws://h"),
            UrlError::Scheme {
                expected: "http:// or https://"
            }
        );
        assert_eq!(
            check("http://h", Kind::Ws).unwrap_err().to_string(),
            "must be an absolute URL starting with ws:// or wss://"
        );
        assert_eq!(
            http("HTTP://h").to_string(),
            "must be an absolute URL starting with http:// or https://"
        );
        assert_eq!(
            http("http://h:99999").to_string(),
            "has port 99999, outside 1..=65535"
        );
        assert_eq!(http("http://h:0"), UrlError::PortRange { port: "0".into() });
        assert_eq!(http("http://h:"), UrlError::EmptyPort);
        assert_eq!(http("http://h:8o"), UrlError::PortNotNumber);
        assert_eq!(http("http://h:-1"), UrlError::PortNotNumber);
        assert_eq!(http("http://"), UrlError::NoHost);
        assert_eq!(http("http:///path"), UrlError::NoHost);
        assert_eq!(http("http://:80"), UrlError::NoHost);
        assert_eq!(http("http://a b"), UrlError::Whitespace { at: 8 });
        assert_eq!(http(" http://h"), UrlError::Whitespace { at: 0 });
        assert_eq!(http("http://h/\n"), UrlError::Whitespace { at: 9 });
        assert_eq!(http("http://h/\u{7f}"), UrlError::Whitespace { at: 9 });
        assert_eq!(http("http://h%41"), UrlError::BadHost);
        assert_eq!(http("http://[::1"), UrlError::BadHost);
        assert_eq!(http("http://[nope]:80"), UrlError::BadHost);
        assert_eq!(http("http://[::1]x"), UrlError::BadHost);
        assert_eq!(http("http://a:1:2"), UrlError::PortNotNumber);
        assert_eq!(http("http://héllo"), UrlError::BadHost);
    }

    #[test]
    fn credentials_are_refused_and_never_shown() {
        for (url, shown) in [
            ("http://user:s3cret@host:1/x", "user:***@"),
            ("https://user:s3cret:more@host", "user:***@"),
            ("http://user:p@ss@host", "user:***@"),
            ("wss://tok3n@host", "***@"),
        ] {
            let kind = if url.starts_with("ws") {
                Kind::Ws
            } else {
                Kind::Http
            };
            let e = check(url, kind).unwrap_err();
            assert_eq!(
                e,
                UrlError::Credentials {
                    shown: shown.into()
                },
                "{url}"
            );
            let msg = e.to_string();
            assert!(
                msg.contains(shown) && msg.contains("Authorization"),
                "{msg}"
            );
            assert!(!msg.contains("s3cret") && !msg.contains("tok3n") && !msg.contains("ss@"));
        }
    }

    #[test]
    fn scheme_prefixes() {
        assert!(check_scheme_prefix("https://x", Kind::Http).is_ok());
        assert!(check_scheme_prefix("ht", Kind::Http).is_ok());
        assert!(check_scheme_prefix("", Kind::Ws).is_ok());
        assert!(check_scheme_prefix("ftp://", Kind::Http).is_err());
        assert!(check_scheme_prefix("http://x", Kind::Ws).is_err());
    }
}
