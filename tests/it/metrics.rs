//! `--metrics-listen`: the Prometheus page scraped while a run goes on (counters only grow) and
//! after it (the figures agree exactly with the results file), read by a strict parser of the
//! text format; a bad address is refused before anything runs.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::raw::spawn_binary;
use crate::util::*;
use load_tester::exit::Exit;

/// One sample: its labels (sorted) and value.
type Labels = Vec<(String, String)>;

/// A parsed page: the samples by name and labels, and each family's type.
#[derive(Debug, Default)]
struct Page {
    samples: BTreeMap<(String, Labels), f64>,
    types: HashMap<String, String>,
}

impl Page {
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut l: Labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.sort();
        self.samples.get(&(name.to_string(), l)).copied()
    }

    /// Every sample of counter families (their name ends in `_total`).
    fn counters(&self) -> impl Iterator<Item = (&(String, Labels), f64)> {
        self.samples
            .iter()
            .filter(|((n, _), _)| self.types.get(n).map(String::as_str) == Some("counter"))
            .map(|(k, v)| (k, *v))
    }
}

/// Reads `name{a="x",b="y"} value` strictly: label values with `\\`, `\"`, `\n` escapes.
fn parse_sample(line: &str) -> Result<(String, Labels, f64), String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| format!("no value: {line}"))?;
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!("bad metric name: {line}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices().peekable();
        loop {
            let (start, c) = chars.next().ok_or("unclosed {")?;
            if c == '}' {
                rest = &r[start + 1..];
                break;
            }
            let eq = r[start..].find('=').ok_or("label without =")? + start;
            let key = r[start..eq].to_string();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("bad label name {key:?}: {line}"));
            }
            while chars.peek().is_some_and(|(i, _)| *i < eq) {
                chars.next();
            }
            chars.next(); // '='
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label value not quoted: {line}"));
            }
            let mut value = String::new();
            loop {
                match chars.next().ok_or("unclosed label value")?.1 {
                    '"' => break,
                    '\\' => match chars.next().ok_or("dangling escape")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        c => return Err(format!("bad escape \\{c}: {line}")),
                    },
                    '\n' => return Err("raw line feed in a label value".into()),
                    c => value.push(c),
                }
            }
            labels.push((key, value));
            match chars.peek().map(|(_, c)| *c) {
                Some(',') => {
                    chars.next();
                }
                Some('}') => {}
                _ => return Err(format!("expected , or }} after a label: {line}")),
            }
        }
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("no space before the value: {line}"))?;
    let v = match value {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().map_err(|_| format!("bad value {v:?}: {line}"))?,
    };
    labels.sort();
    Ok((name.to_string(), labels, v))
}

/// Parses a whole page strictly: HELP then TYPE before a family's samples, one TYPE per family,
/// counters named `*_total`, summaries' `_sum`/`_count` after their TYPE, no duplicate sample.
fn parse(page: &str) -> Result<Page, String> {
    let mut p = Page::default();
    let mut helped = std::collections::HashSet::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            if !helped.insert(name.to_string()) {
                return Err(format!("second HELP for {name}"));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or("TYPE without a type")?;
            if !helped.contains(name) {
                return Err(format!("TYPE before HELP for {name}"));
            }
            if !["counter", "gauge", "summary", "histogram", "untyped"].contains(&kind) {
                return Err(format!("unknown type {kind}"));
            }
            if kind == "counter" && !name.ends_with("_total") {
                return Err(format!("counter {name} does not end in _total"));
            }
            if p.types.insert(name.to_string(), kind.to_string()).is_some() {
                return Err(format!("second TYPE for {name}"));
            }
        } else if line.starts_with('#') || line.is_empty() {
            return Err(format!("unexpected line: {line:?}"));
        } else {
            let (name, labels, v) = parse_sample(line)?;
            let family = ["_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|b| p.types.get(*b).map(String::as_str) == Some("summary"))
                })
                .unwrap_or(&name);
            if !p.types.contains_key(family) {
                return Err(format!("sample before its TYPE: {line}"));
            }
            if p.samples.insert((name, labels), v).is_some() {
                return Err(format!("duplicate sample: {line}"));
            }
        }
    }
    Ok(p)
}

/// GET http://127.0.0.1:PORT/metrics: the body of a 200, or None while nothing answers.
fn scrape(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    Some(body.to_string())
}

/// Scrapes until the run's final page (or the deadline), checking each page parses and that no
/// counter ever goes down; returns the pages seen while the run was going on, and the last.
fn scrape_to_the_end(port: u16) -> (Vec<Page>, Page) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut during = Vec::new();
    let mut last: Option<Page> = None;
    loop {
        assert!(Instant::now() < deadline, "no final page within 60 s");
        if let Some(body) = scrape(port) {
            let page = parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
            if let Some(prev) = &last {
                for (key, v) in prev.counters() {
                    let now = page.samples.get(key).copied().unwrap_or(0.0);
                    assert!(now >= v, "{key:?} went down: {v} then {now}");
                }
            }
            let finished = page.get("load_tester_run_finished", &[]) == Some(1.0);
            if finished {
                return (during, page);
            }
            if page.get("load_tester_elapsed_seconds", &[]).unwrap_or(0.0) > 0.0 {
                during.push(parse(&body).unwrap_or_default());
            }
            last = Some(page);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The errors of the results file, summed by (step, kind), as the page counts them.
fn errors_of(r: &load_tester::metrics::summary::Summary) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for e in &r.errors {
        *out.entry((e.step.clone(), e.kind.to_string())).or_default() += e.count as f64;
    }
    out
}

fn errors_on(page: &Page) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for ((name, labels), v) in &page.samples {
        if name == "load_tester_errors_total" {
            let get = |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            out.insert((get("step").unwrap(), get("kind").unwrap()), *v);
        }
    }
    out
}

/// Runs `s.toml` (the fast golden path for `secs` seconds, one in five flows failing by an agent
/// error) as a real process serving its metrics, lingering until SIGTERM; scrapes it during the
/// run and at the end, then checks the last page against the results file.
fn scrape_a_run(extra: &[&str]) -> (Vec<Page>, Page, load_tester::metrics::summary::Summary) {
    let dir = tempdir();
    let text = fast_golden("").replace("iterations = 1\n", "duration = \"3s\"\n");
    let path = scenario(dir.path(), "s.toml", &text);
    let out = dir.path().join("r.json");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "run",
        path.to_str().unwrap(),
        "--mock",
        "--users",
        "4",
        "--fault",
        "agent-error",
        "--fault-rate",
        "0.2",
        "--metrics-listen",
        &listen,
        "--metrics-linger",
        "30s",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let running = spawn_binary(&args, &[]);
    let (during, last) = scrape_to_the_end(port);
    running.signal(libc::SIGTERM);
    let ran = running.wait();
    assert_eq!(ran.code, Some(Exit::Failed.code()), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains(&format!("metrics on http://{listen}/metrics")),
        "{}",
        ran.stderr
    );
    (during, last, read_results(&out))
}

/// Mid-run scrapes grow; the final scrape's flows, step executions and errors are the results'.
fn check_final(last: &Page, r: &load_tester::metrics::summary::Summary) {
    let flows = |outcome| last.get("load_tester_flows_total", &[("outcome", outcome)]);
    assert_eq!(flows("passed"), Some(r.flows.passed as f64));
    assert_eq!(flows("failed"), Some(r.flows.failed as f64));
    assert_eq!(flows("interrupted"), Some(r.flows.interrupted as f64));
    assert!(r.flows.passed > 0 && r.flows.failed > 0, "{:?}", r.flows);
    assert_eq!(errors_on(last), errors_of(r));
    assert!(!errors_of(r).is_empty());
    for s in &r.steps {
        let ex = |result| {
            last.get(
                "load_tester_step_executions_total",
                &[("step", &s.name), ("result", result)],
            )
        };
        assert_eq!(ex("ok"), Some(s.ok as f64), "{}", s.name);
        assert_eq!(ex("failed"), Some(s.failed as f64), "{}", s.name);
        let count = last.get(
            "load_tester_step_latency_seconds_count",
            &[("step", &s.name)],
        );
        assert_eq!(count, Some(s.latency.count as f64), "{}", s.name);
    }
    let started = last.get(
        "load_tester_event_latency_seconds_count",
        &[("step", "chat"), ("event", "agent_started")],
    );
    let chat = r.step("chat").unwrap();
    assert_eq!(
        started,
        Some(chat.event("agent_started").unwrap().count as f64)
    );
    assert_eq!(last.get("load_tester_active_users", &[]), Some(0.0));
    assert_eq!(last.types["load_tester_step_latency_seconds"], "summary");
}

#[test]
fn metrics_grow_during_the_run_and_agree_with_the_results_at_the_end() {
    let (during, last, r) = scrape_a_run(&[]);
    assert!(
        !during.is_empty(),
        "a page was published while the run went on"
    );
    let mid = during.last().unwrap();
    assert_eq!(mid.get("load_tester_run_finished", &[]), Some(0.0));
    let ended = |p: &Page| {
        p.get("load_tester_flows_total", &[("outcome", "passed")])
            .unwrap_or(0.0)
            + p.get("load_tester_flows_total", &[("outcome", "failed")])
                .unwrap_or(0.0)
    };
    assert!(ended(mid) <= (r.flows.passed + r.flows.failed) as f64);
    check_final(&last, &r);
}

#[tokio::test]
async fn an_address_that_cannot_be_bound_exits_2_before_anything_runs() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempdir();
    let (o, out) = run_fast_golden(dir.path(), &["--metrics-listen", &addr]).await;
    assert_eq!(o.exit, Exit::Usage, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!(
            "error: --metrics-listen {addr}: cannot listen there: "
        )) && o.stderr.contains("(nothing was run)"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("running "), "{}", o.stderr);
    assert!(!out.exists(), "no results: nothing ran");
}

#[test]
fn the_parser_is_strict() {
    assert!(parse("x 1\n").is_err(), "no TYPE");
    assert!(
        parse("# HELP x h\n# TYPE x counter\nx 1\n").is_err(),
        "counter without _total"
    );
    let ok = "# HELP x_total h\n# TYPE x_total counter\nx_total{a=\"q\\\"\\n\\\\\"} 3\n";
    let p = parse(ok).unwrap();
    assert_eq!(p.get("x_total", &[("a", "q\"\n\\")]), Some(3.0));
    assert!(parse(&ok.replace("} 3", "} three")).is_err());
    assert!(parse(&ok.replace("a=\"", "a=")).is_err());
}

/// `--processes`: the parent serves the metrics from its children's interval records, and keeps
/// the time series it merged from them in its results.
#[test]
fn with_processes_the_parent_serves_its_childrens_figures() {
    let (during, last, r) = scrape_a_run(&["--processes", "2"]);
    assert_eq!(r.generators, 2);
    let mid = during
        .last()
        .expect("a page from the children's records mid-run");
    let started = mid.get("load_tester_flows_started_total", &[]).unwrap();
    assert!(started > 0.0, "the children's flows reached the parent");
    check_final(&last, &r);
    let passed: u64 = r.timeseries.iter().map(|t| t.flows_passed).sum();
    let failed: u64 = r.timeseries.iter().map(|t| t.flows_failed).sum();
    assert_eq!((passed, failed), (r.flows.passed, r.flows.failed));
    assert!(
        r.timeseries.iter().any(|t| t.active > 0),
        "{:?}",
        r.timeseries
    );
}

/// `probe --repeat --metrics-listen`: the page is updated after every pass, and at the end its
/// flows and errors are the probe's results (one pass in two failing by an agent error).
#[test]
fn a_repeated_probe_serves_its_passes() {
    let dir = tempdir();
    let out = dir.path().join("p.json");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let golden = shipped("golden-path.toml");
    let running = spawn_binary(
        &[
            "probe",
            &golden,
            "--mock",
            "--repeat",
            "3",
            "--every",
            "400ms",
            "--fault",
            "agent-error",
            "--fault-rate",
            "0.5",
            "--metrics-listen",
            &listen,
            "--metrics-linger",
            "30s",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    let (during, last) = scrape_to_the_end(port);
    running.signal(libc::SIGTERM);
    let ran = running.wait();
    assert_eq!(ran.code, Some(Exit::Failed.code()), "{}", ran.stderr);
    let r = read_results(&out);
    assert_eq!((r.flows.passed, r.flows.failed), (2, 1), "{:?}", r.flows);
    let flows = |outcome| last.get("load_tester_flows_total", &[("outcome", outcome)]);
    assert_eq!((flows("passed"), flows("failed")), (Some(2.0), Some(1.0)));
    assert_eq!(errors_on(&last), errors_of(&r));
    // Pages between passes (400 ms apart, scraped every 50 ms): each shows the passes so far.
    let counts: Vec<f64> = during
        .iter()
        .map(|page| {
            let get = |o| page.get("load_tester_flows_total", &[("outcome", o)]);
            get("passed").unwrap_or(0.0) + get("failed").unwrap_or(0.0)
        })
        .collect();
    assert!(counts.iter().all(|n| *n <= 3.0), "{counts:?}");
    assert!(
        counts.iter().any(|n| (1.0..3.0).contains(n)),
        "no page between passes: {counts:?}"
    );
}

/// `--canary-every`: the canary's own families, live once its first flow has ended, and at the
/// end the canary's results; the load's families stay the load's alone.
#[test]
fn the_canary_has_series_of_its_own() {
    let (during, last, r) = scrape_a_run(&["--canary-every", "200ms"]);
    check_final(&last, &r);
    let c = r.canary.as_ref().expect("the results have a canary");
    let live = during
        .iter()
        .filter_map(|p| p.get("load_tester_canary_flows_started_total", &[]))
        .fold(0.0, f64::max);
    assert!(live >= 1.0, "a mid-run page showed the canary");
    let canary = |name: &str, labels: &[(&str, &str)]| last.get(name, labels);
    assert_eq!(
        canary("load_tester_canary_flows_started_total", &[]),
        Some(c.flows.started as f64)
    );
    for (outcome, n) in [
        ("passed", c.flows.passed),
        ("failed", c.flows.failed),
        ("interrupted", c.flows.interrupted),
    ] {
        let got = canary("load_tester_canary_flows_total", &[("outcome", outcome)]);
        assert_eq!(got, Some(n as f64), "{outcome}");
    }
    assert_eq!(
        canary("load_tester_canary_ticks_skipped_total", &[]),
        Some(c.flows.skipped as f64)
    );
    let chat = c.step("chat").unwrap();
    let latency = canary(
        "load_tester_canary_step_latency_seconds_count",
        &[("step", "chat")],
    );
    assert_eq!(latency, Some(chat.latency.count as f64));
    let ok = canary(
        "load_tester_canary_step_executions_total",
        &[("step", "login"), ("result", "ok")],
    );
    assert_eq!(ok, Some(1.0), "the canary logged in once");
    assert_eq!(
        last.types["load_tester_canary_step_latency_seconds"],
        "summary"
    );
}
