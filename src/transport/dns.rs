//! Host name resolution in Rust (hickory), so a static binary in a `scratch` image resolves
//! compose service names: glibc's `getaddrinfo` needs NSS modules such an image does not have.
//!
//! One resolver per thread (each worker is its own runtime), with hickory's cache; `/etc/hosts`
//! is honoured. When no resolver configuration exists, the system resolver is the fallback.

use std::cell::RefCell;
use std::net::IpAddr;

use hickory_resolver::TokioAsyncResolver;

thread_local! {
    static RESOLVER: RefCell<Option<Option<TokioAsyncResolver>>> = const { RefCell::new(None) };
}

fn resolver() -> Option<TokioAsyncResolver> {
    RESOLVER.with(|r| {
        r.borrow_mut()
            .get_or_insert_with(|| TokioAsyncResolver::tokio_from_system_conf().ok())
            .clone()
    })
}

/// Resolves `host` to its addresses (IP literals are returned as they are).
pub async fn resolve(host: &str) -> Option<Vec<IpAddr>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(vec![ip]);
    }
    if let Some(r) = resolver() {
        if let Ok(found) = r.lookup_ip(host).await {
            let ips: Vec<IpAddr> = found.iter().collect();
            if !ips.is_empty() {
                return Some(ips);
            }
        }
    }
    let found = tokio::net::lookup_host((host, 0)).await.ok()?;
    let ips: Vec<IpAddr> = found.map(|a| a.ip()).collect();
    (!ips.is_empty()).then_some(ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn literals_and_localhost_resolve() {
        assert_eq!(
            resolve("127.0.0.1").await,
            Some(vec!["127.0.0.1".parse().unwrap()])
        );
        assert_eq!(resolve("[::1]").await, Some(vec!["::1".parse().unwrap()]));
        let local = resolve("localhost").await.expect("localhost resolves");
        assert!(local.iter().all(|ip| ip.is_loopback()), "{local:?}");
        assert_eq!(resolve("no-such-host.invalid").await, None);
    }
}
