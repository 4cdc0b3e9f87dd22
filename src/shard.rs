//! Which share of the users this generator runs when several generators split one test.
//!
//! Shard `i` of `n` runs the users whose number `u` satisfies `u % n == i`, each at its global
//! start time `u / spawn_rate`: user numbers never collide (per-user emails stay unique) and the
//! generators together ramp at the configured rate. The shard comes from `--shard I/N`, from a
//! Kubernetes Indexed Job (`JOB_COMPLETION_INDEX` + `LOAD_TESTER_SHARD_COUNT`), or, for
//! `docker-compose --scale`, from the generator's position among its service's addresses.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use crate::env::{JOB_COMPLETION_INDEX, SHARD_COUNT, SHARD_SERVICE};

/// This generator's share: `index` is 0-based, shown 1-based (`2/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// How many of `users` users this shard runs.
    pub fn users(&self, users: u32) -> u32 {
        if users <= self.index {
            0
        } else {
            (users - self.index).div_ceil(self.count)
        }
    }

    /// File-name suffix, e.g. `-shard-2-of-3` (empty when not sharded).
    pub fn suffix(&self) -> String {
        if self.is_whole() {
            String::new()
        } else {
            format!("-shard-{}-of-{}", self.index + 1, self.count)
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// `--shard`: `I/N` (1-based) or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    Fixed(Shard),
    Auto,
}

impl FromStr for ShardArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(ShardArg::Auto);
        }
        let bad = || format!("invalid shard '{s}': use I/N with 1 ≤ I ≤ N (e.g. 2/3), or auto");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i: u32 = i.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || i == 0 || i > n {
            return Err(bad());
        }
        Ok(ShardArg::Fixed(Shard {
            index: i - 1,
            count: n,
        }))
    }
}

/// Decides the shard from the flag and the environment.
pub async fn resolve(
    arg: Option<ShardArg>,
    env: &dyn Fn(&str) -> Option<String>,
    wait: Duration,
) -> Result<Shard, String> {
    let count = || -> Result<Option<u32>, String> {
        match env(SHARD_COUNT) {
            None => Ok(None),
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if n >= 1 => Ok(Some(n)),
                _ => Err(format!(
                    "{SHARD_COUNT} must be a whole number ≥ 1, not '{v}'"
                )),
            },
        }
    };
    match arg {
        Some(ShardArg::Fixed(s)) => Ok(s),
        Some(ShardArg::Auto) => {
            let n = count()?
                .ok_or_else(|| format!("--shard auto needs {SHARD_COUNT} (how many generators)"))?;
            let service = env(SHARD_SERVICE).unwrap_or_else(|| "load-tester".into());
            auto(&service, n, wait).await
        }
        None => match (env(JOB_COMPLETION_INDEX), count()?) {
            (Some(i), Some(n)) => {
                let i: u32 = i.trim().parse().map_err(|_| {
                    format!("JOB_COMPLETION_INDEX must be a whole number, not '{i}'")
                })?;
                if i >= n {
                    return Err(format!(
                        "JOB_COMPLETION_INDEX {i} is out of range for {SHARD_COUNT} {n}"
                    ));
                }
                Ok(Shard { index: i, count: n })
            }
            _ => Ok(Shard::default()),
        },
    }
}

/// Finds this generator's position among the `n` addresses of `service` (sorted), waiting
/// (bounded) until all `n` answer: each replica of a scaled compose service sees the same list.
async fn auto(service: &str, n: u32, wait: Duration) -> Result<Shard, String> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let mut ips = crate::transport::dns::resolve(service)
            .await
            .unwrap_or_default();
        ips.sort();
        ips.dedup();
        if ips.len() == n as usize {
            let me = own_ip(ips[0]).ok_or("cannot tell this generator's own address")?;
            let index = ips.iter().position(|ip| *ip == me).ok_or_else(|| {
                format!("this generator ({me}) is not among the addresses of '{service}'")
            })?;
            return Ok(Shard {
                index: index as u32,
                count: n,
            });
        }
        if ips.len() > n as usize {
            return Err(format!(
                "'{service}' has {} addresses but {SHARD_COUNT} is {n}",
                ips.len()
            ));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "only {} of {n} generators of '{service}' answered within {}s",
                ips.len(),
                wait.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The local address the kernel would use to reach `peer` (no packet is sent).
fn own_ip(peer: IpAddr) -> Option<IpAddr> {
    let bind: SocketAddr = match peer {
        IpAddr::V4(_) => "0.0.0.0:0".parse().ok()?,
        IpAddr::V6(_) => "[::]:0".parse().ok()?,
    };
    let sock = std::net::UdpSocket::bind(bind).ok()?;
    sock.connect(SocketAddr::new(peer, 9)).ok()?;
    Some(sock.local_addr().ok()?.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_i_of_n() {
        assert_eq!(
            "2/3".parse::<ShardArg>(),
            Ok(ShardArg::Fixed(Shard { index: 1, count: 3 }))
        );
        assert_eq!("auto".parse::<ShardArg>(), Ok(ShardArg::Auto));
        for bad in ["0/3", "4/3", "1/0", "x", "1-3", ""] {
            assert!(bad.parse::<ShardArg>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shares_cover_all_users_once() {
        for users in [0u32, 1, 2, 7, 150, 1000] {
            for count in 1..=5u32 {
                let total: u32 = (0..count)
                    .map(|index| Shard { index, count }.users(users))
                    .sum();
                assert_eq!(total, users, "{users} users over {count} shards");
            }
        }
        assert_eq!(Shard { index: 1, count: 3 }.suffix(), "-shard-2-of-3");
        assert_eq!(Shard::default().suffix(), "");
    }

    #[tokio::test]
    async fn env_decides_for_kubernetes_indexed_jobs() {
        let env = |k: &str| match k {
            "JOB_COMPLETION_INDEX" => Some("2".to_string()),
            "LOAD_TESTER_SHARD_COUNT" => Some("3".to_string()),
            _ => None,
        };
        let s = resolve(None, &env, Duration::ZERO).await.unwrap();
        assert_eq!(s, Shard { index: 2, count: 3 });
        let bad = |k: &str| match k {
            "JOB_COMPLETION_INDEX" => Some("3".to_string()),
            "LOAD_TESTER_SHARD_COUNT" => Some("3".to_string()),
            _ => None,
        };
        assert!(resolve(None, &bad, Duration::ZERO)
            .await
            .unwrap_err()
            .contains("out of range"));
        let none = |_: &str| None;
        assert_eq!(
            resolve(None, &none, Duration::ZERO).await.unwrap(),
            Shard::default()
        );
    }

    #[tokio::test]
    async fn auto_finds_its_place_among_the_service_addresses() {
        // "localhost" resolves to this machine's loopback address(es): one generator of one.
        let ips = crate::transport::dns::resolve("localhost").await.unwrap();
        let v4: Vec<_> = ips.iter().filter(|ip| ip.is_ipv4()).collect();
        if v4.len() == ips.len() {
            let s = auto("localhost", ips.len() as u32, Duration::ZERO)
                .await
                .unwrap();
            assert_eq!(s.count, ips.len() as u32);
        }
        let err = auto("localhost", 7, Duration::ZERO).await.unwrap_err();
        assert!(err.contains("of 7 generators"), "{err}");
    }
}
