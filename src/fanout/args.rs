//! The command line of a `--processes` child: the parent's scenario and overrides as explicit
//! flags (never the parent's environment), plus the hidden `--interval-records`.

use std::ffi::OsString;
use std::time::Duration;

use crate::cli::{ArrivalsArg, RunArgs};

/// Environment variables the tool reads as flags; children get explicit flags instead, so a
/// variable meant for the parent (a results file, a shard) never applies to every child.
pub(super) fn flag_env_names(subcommand: &str) -> Vec<String> {
    let mut names = crate::env::flag_names(subcommand);
    // Read by the shard logic directly.
    names.extend(
        [
            crate::env::SHARD_COUNT,
            crate::env::SHARD_SERVICE,
            crate::env::JOB_COMPLETION_INDEX,
        ]
        .map(String::from),
    );
    names
}

/// A duration as the tool's parser reads it, exactly (`1.250000000s`).
pub(super) fn dur(d: Duration) -> String {
    format!("{}.{:09}s", d.as_secs(), d.subsec_nanos())
}

/// The flags every child of a run gets: the scenario and the parent's overrides, with the
/// target given explicitly (`target` when the parent started the mock).
pub fn run_args(a: &RunArgs, target: Option<&str>) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec!["run".into(), a.scenario.clone().into_os_string()];
    let mut flag = |name: &str, value: String| {
        v.push(name.into());
        v.push(value.into());
    };
    match target {
        Some(url) => {
            flag("--target", url.to_string());
            flag("--auth-url", url.to_string());
        }
        None => {
            if let Some(x) = &a.target.urls.base_url {
                flag("--target", x.clone());
            }
            if let Some(x) = &a.target.urls.auth_url {
                flag("--auth-url", x.clone());
            }
            if let Some(x) = &a.target.urls.ws_url {
                flag("--ws-url", x.clone());
            }
        }
    }
    if let Some(x) = &a.target.ca_cert {
        flag("--ca-cert", x.display().to_string());
    }
    if let Some(x) = a.users {
        flag("--users", x.to_string());
    }
    if let Some(x) = a.spawn_rate {
        flag("--spawn-rate", x.to_string());
    }
    if let Some(x) = a.duration {
        flag("--duration", dur(x));
    }
    if let Some(x) = a.iterations {
        flag("--iterations", x.to_string());
    }
    if let Some(x) = a.arrival_rate {
        flag("--arrival-rate", x.to_string());
    }
    if let Some(x) = a.arrivals {
        let name = match x {
            ArrivalsArg::Even => "even",
            ArrivalsArg::Poisson => "poisson",
        };
        flag("--arrivals", name.to_string());
    }
    if let Some(x) = a.max_lateness {
        flag("--max-lateness", dur(x));
    }
    flag("--seed", a.seed.to_string());
    for s in &a.stages {
        flag("--stage", format!("{}:{}", dur(s.duration), s.target));
    }
    flag("--backoff", dur(a.backoff));
    flag("--backoff-max", dur(a.backoff_max));
    if let Some(x) = a.graceful_stop {
        flag("--graceful-stop", dur(x));
    }
    if let Some(x) = &a.local_addrs {
        let list: Vec<String> = x.0.iter().map(|ip| ip.to_string()).collect();
        flag("--local-addrs", list.join(","));
    }
    flag("--transcripts", a.transcripts.to_string());
    if a.token_refresh == crate::cli::OnOff::Off {
        flag("--token-refresh", "off".to_string());
    }
    // The parent shows the progress and serves the metrics, from the children's records.
    v.push("--interval-records".into());
    if a.target.insecure {
        v.push("--insecure".into());
    }
    v
}

/// A mock's command line for its children: as given, without the subcommand and `--processes`.
pub fn mock_args(args: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut it = args.iter().skip_while(|a| *a != "mock").skip(1);
    while let Some(a) = it.next() {
        let text = a.to_string_lossy();
        if text == "--processes" {
            it.next();
        } else if !text.starts_with("--processes=") {
            out.push(a.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_through_the_parser() {
        for d in [
            Duration::from_millis(1500),
            Duration::from_nanos(1),
            Duration::from_secs(3600),
        ] {
            assert_eq!(crate::duration::parse_duration(&dur(d)), Ok(d));
        }
    }
}
