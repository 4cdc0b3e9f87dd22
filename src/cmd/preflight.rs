//! Before a load run: one connection to each address the scenario talks to, so an unreachable
//! target is one clear line (the address, where it came from, how to override it) and exit 3,
//! instead of a run's worth of refused connections.

use std::time::Duration;

use crate::metrics::errors::{ErrorCode, ErrorKind, Failure, Phase};
use crate::plan::{Plan, TargetUrl as Role};
use crate::transport::conn::{parse_url, Conn, Target, HTTP, WS};

/// How long the check waits for each address (connect and TLS).
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(5);

/// An address that could not be reached: which roles use it and why.
pub struct Unreachable {
    pub roles: Vec<Role>,
    pub failure: Failure,
}

/// Connects once to each distinct origin among the plan's base, auth and WebSocket URLs. Only
/// failures that mean "nothing is there" are returned (DNS, refused, TLS, a connect timeout).
pub async fn check(plan: &Plan) -> Vec<Unreachable> {
    let urls = [
        (Role::Base, plan.target.base_url.as_str(), HTTP),
        (Role::Auth, plan.target.auth_url.as_str(), HTTP),
        (Role::Ws, plan.target.ws_url.as_str(), WS),
    ];
    // Distinct origins, each with the first target that names it and every role that uses it.
    let mut origins: Vec<(Target, Vec<Role>)> = Vec::new();
    for (role, url, schemes) in urls {
        let Ok(t) = parse_url(url, schemes) else {
            continue; // compile already refused it
        };
        match origins.iter_mut().find(|(o, _)| t.is_at(&o.origin())) {
            Some((_, roles)) => roles.push(role),
            None => origins.push((t, vec![role])),
        }
    }
    let bind = plan.local_addrs.first().copied();
    let mut out = Vec::new();
    for (t, roles) in origins {
        let mut phase = Phase::Dns;
        let open = Conn::open_tracked(&t, bind, &mut phase);
        let failure = match tokio::time::timeout(PREFLIGHT_TIMEOUT, open).await {
            Ok(Ok(_)) => continue,
            Ok(Err(f)) => f,
            Err(_) => Failure::new(ErrorKind::Timeout, phase).cause(format!(
                "{}: no connection within {} (waiting in {phase})",
                t.label(),
                crate::duration::human(PREFLIGHT_TIMEOUT)
            )),
        };
        let code = failure.kind.code();
        if code.is_unreachable() || code == ErrorCode::Timeout {
            out.push(Unreachable { roles, failure });
        }
    }
    out
}

/// One line for an address nothing answers at: the cause (with the address), which of the
/// scenario's URLs it is and where that came from (once: URLs that follow it are only named),
/// and how to override it.
pub fn line(plan: &Plan, u: &Unreachable) -> String {
    use crate::plan::UrlSource;
    let t = &plan.target;
    let follows =
        |r: Role| matches!(t.source(r), UrlSource::Derived(from) if u.roles.contains(from));
    let mut parts = Vec::new();
    for r in u.roles.iter().filter(|r| !follows(**r)) {
        let followers: Vec<&str> = u
            .roles
            .iter()
            .filter(|f| matches!(t.source(**f), UrlSource::Derived(from) if from == r))
            .map(|f| f.key())
            .collect();
        let note = match followers.len() {
            0 => String::new(),
            1 => format!(" ({} follows it)", followers[0]),
            _ => format!(" ({} follow it)", followers.join(" and ")),
        };
        parts.push(t.where_from_noting(*r, &note));
    }
    format!(
        "unreachable: {} [{}]; {}",
        u.failure.cause_text(),
        u.failure.kind.code(),
        parts.join("; ")
    )
}
