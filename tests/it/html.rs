//! The HTML report: a short mock run with a fault writes it; headless Chromium renders it (a
//! screenshot that is not blank, every chart drawn in the DOM); nothing is fetched; `report`
//! rebuilds the same page from the saved results and refuses bad files with exit 2.

use std::path::{Path, PathBuf};

use crate::chromium::{chromium, ink, run_chromium};
use crate::util::{assert_passed, read_json, run_cli, run_fast_golden, shipped, tempdir, Output};
use load_tester::exit::Exit;

/// The chart figures every run's report has, and the drawn elements each must hold at least.
const FIGURES: [(&str, &str, usize); 5] = [
    // p50/p95/p99 of four steps with latencies (login, connect, chat, close).
    ("chart-latency-over-time", "<polyline", 12),
    // One line per step, five for chat's events.
    ("chart-latency-spectrum", "<polyline", 8),
    // Flows passed, failed, step errors per second.
    ("chart-throughput", "<polyline", 3),
    // The area under the active-users line.
    ("chart-active-users", "<polygon", 1),
    // The white background and one bar per error kind.
    ("chart-errors", "<rect", 2),
];

/// The element with this id in the rendered DOM, up to its `</figure>`.
fn figure<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("the rendered page has no #{id}"));
    let end = dom[start..]
        .find("</figure>")
        .map(|e| start + e)
        .unwrap_or_else(|| panic!("#{id} is not closed"));
    &dom[start..end]
}

/// The page asks for nothing from anywhere: no script, stylesheet, image, frame or font.
fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for bad in [
        " src=", " href=", "<script", "<link", "<img", "<iframe", "<object", "<embed", "@import",
        "url(", "xlink:",
    ] {
        assert!(!lower.contains(bad), "the HTML report contains {bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_renders_in_chromium_with_every_chart_drawn() {
    // Missing Chromium fails here, before the run, with what to install.
    chromium();
    let dir = tempdir();
    let html = dir.path().join("out.html");
    let results = dir.path().join("results.json");
    let scenario = shipped("golden-path.toml");
    let o = run_cli(
        &[
            "run",
            &scenario,
            "--mock",
            "--delay",
            "5ms",
            "--jitter",
            "5ms",
            "-u",
            "5",
            "-d",
            "3s",
            "--fault",
            "drop:tool_completed",
            "--fault-rate",
            "0.25",
            "-q",
            "--out",
            results.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    // A quarter of the flows miss tool_completed: failed, exit 1.
    assert_eq!(o.exit, Exit::Failed, "{}{}", o.stdout, o.stderr);
    let page = std::fs::read_to_string(&html).expect("--html wrote the report");
    assert_self_contained(&page);
    assert!(page.contains("FAILED (exit 1)"), "the verdict badge");

    // `report` from the saved results writes the same page.
    let again = dir.path().join("again.html");
    let r = run_cli(
        &[
            "report",
            results.to_str().unwrap(),
            "--html",
            again.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(r.exit, Exit::Passed, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&again).unwrap(), page);

    let shot = dir.path().join("shot.png");
    run_chromium(
        &html,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,4000".into(),
        ],
        &dir.path().join("shot.stdout"),
    );
    let (w, h, inked, colours) = ink(&shot);
    assert_eq!((w, h), (1280, 4000), "the screenshot's size");
    let share = inked as f64 / (w * h) as f64;
    eprintln!(
        "screenshot: {inked} non-white pixels ({:.1}%), {colours} colours",
        share * 100.0
    );
    assert!(
        share > 0.03,
        "the screenshot is nearly blank: {inked} of {} pixels are not white",
        w * h
    );
    assert!(
        colours >= 64,
        "the screenshot has only {colours} colours: charts not drawn?"
    );
    // Kept for a person to look at (target/tmp/html-report.png).
    let _ = std::fs::copy(
        &shot,
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-report.png"),
    );

    let dom_file = dir.path().join("dom.html");
    run_chromium(&html, &["--dump-dom".into()], &dom_file);
    let dom = std::fs::read_to_string(&dom_file).expect("chromium dumped the DOM");
    for (id, element, at_least) in FIGURES {
        let fig = figure(&dom, id);
        assert!(fig.contains("<figcaption>"), "#{id} has a caption");
        assert!(
            !fig.contains("class=\"nodata\""),
            "#{id} says it has no data:\n{fig}"
        );
        let svgs = fig.matches("<svg").count();
        let drawn = fig.matches(element).count();
        assert!(
            svgs >= 1 && drawn >= at_least,
            "#{id}: {svgs} svg, {drawn} {element} (at least {at_least})"
        );
    }
    assert!(figure(&dom, "chart-errors").contains("event_missing"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_refuses_unreadable_and_invalid_results_with_exit_2() {
    let dir = tempdir();
    let out = dir.path().join("r.html");
    let out = out.to_str().unwrap();
    let report = |path: PathBuf| async move {
        let p = path.to_str().unwrap().to_string();
        run_cli(&["report", &p, "--html", out], &[]).await
    };
    let expect_2 = |o: &Output, what: &str| {
        assert_eq!(o.exit, Exit::Usage, "{what}: {}", o.stderr);
        assert!(!Path::new(out).exists(), "{what}: no report written");
    };

    let missing = dir.path().join("missing.json");
    let o = report(missing.clone()).await;
    expect_2(&o, "missing");
    assert!(
        o.stderr
            .contains(&format!("cannot read {}", missing.display())),
        "{}",
        o.stderr
    );

    for (name, text) in [
        ("broken.json", "{\"version\": 2, \"tool\": "),
        ("other.json", "{\"hello\": \"world\"}"),
        ("binary.json", "\u{0}\u{1}\u{2}"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let o = report(path.clone()).await;
        expect_2(&o, name);
        assert!(
            o.stderr.contains(&format!(
                "{}: not a load-tester results file",
                path.display()
            )),
            "{name}: {}",
            o.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_on_merge_from_edited_results_and_bad_paths() {
    let dir = tempdir();
    let (o, results) = run_fast_golden(dir.path(), &["-q"]).await;
    assert_passed(&o);
    let results = results.to_str().unwrap().to_string();

    let merged = dir.path().join("merged.html");
    let m = run_cli(
        &["merge", &results, "--html", merged.to_str().unwrap()],
        &[],
    )
    .await;
    assert_eq!(m.exit, Exit::Passed, "{}", m.stderr);
    let page = std::fs::read_to_string(&merged).expect("merge --html wrote the report");
    assert_self_contained(&page);
    for (id, _, _) in FIGURES {
        assert!(
            page.contains(&format!("id=\"{id}\"")),
            "merged report has #{id}"
        );
    }

    // Hand-edited results: extreme values, a histogram that does not decode, an empty series.
    let mut v = read_json(Path::new(&results));
    v["elapsed_s"] = 1e300.into();
    v["flows"]["passed"] = u64::MAX.into();
    v["steps"][0]["latency"]["histogram"] = "not base64!".into();
    v["steps"][2]["events"][0]["latency"]["count"] = 7.into();
    v["timeseries"] = serde_json::json!([{
        "t_s": -5.0, "flows_passed": u64::MAX, "flows_failed": 0, "dropped": 0, "active": 3,
        "steps": [{"name": "chat", "ok": 1, "errors": 0, "p50_ms": 1e308, "p95_ms": 1e308, "p99_ms": 1e308}]
    }, {
        "t_s": 1e300, "flows_passed": 1, "flows_failed": 0, "dropped": 0, "active": 0, "steps": []
    }]);
    v["errors"] = serde_json::json!([{
        "step": "chat", "kind": "event_missing", "phase": "events", "detail": "<b>x</b>",
        "count": u64::MAX, "causes": [], "other_causes": 0
    }]);
    let edited = dir.path().join("edited.json");
    std::fs::write(&edited, v.to_string()).unwrap();
    let out = dir.path().join("edited.html");
    let r = run_cli(
        &[
            "report",
            edited.to_str().unwrap(),
            "--html",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(r.exit, Exit::Passed, "{}", r.stderr);
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(
        page.contains("&lt;b&gt;x&lt;/b&gt;"),
        "error text is escaped"
    );
    assert!(!page.contains("<b>x</b>"));
    assert!(
        page.contains("could not be read"),
        "the bad histogram is named"
    );

    // `--html -` on run and an unwritable path: usage errors before anything runs.
    let scenario = shipped("golden-path.toml");
    let bounded = ["run", &scenario, "--mock", "-u", "1", "-i", "1", "--html"];
    let o = run_cli(&[&bounded[..], &["-"]].concat(), &[]).await;
    assert_eq!(o.exit, Exit::Usage, "{}", o.stderr);
    assert!(o.stderr.contains("--html needs a file"), "{}", o.stderr);
    let blocked = format!("{results}/report.html");
    let o = run_cli(&[&bounded[..], &[blocked.as_str()]].concat(), &[]).await;
    assert_eq!(o.exit, Exit::Usage, "{}", o.stderr);
    assert!(o.stderr.contains("(nothing was run)"), "{}", o.stderr);
    // The variable, read by the real binary (in-process runs see no process env); bounded.
    let ran = crate::raw::run_binary(
        &["run", &scenario, "--mock", "-u", "1", "-d", "1s"],
        &[("LOAD_TESTER_HTML", &blocked)],
    );
    assert_eq!(
        ran.code,
        Some(2),
        "LOAD_TESTER_HTML is read: {}",
        ran.stderr
    );
    assert!(ran.stderr.contains("(nothing was run)"), "{}", ran.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_and_a_comparison_are_tables_and_a_chart() {
    use load_tester::report::html::{render, ComparisonRow, ComparisonView};
    let dir = tempdir();
    let (o, results) = run_fast_golden(dir.path(), &["-q"]).await;
    assert_passed(&o);
    let mut v = read_json(&results);
    v["thresholds"] = serde_json::json!([
        {"expr": "chat.agent_started.p95 < 2s", "source": "s.toml:40", "metric": "chat.agent_started.p95",
         "op": "<", "limit": 2000.0, "unit": "ms", "observed": 12.5, "passed": true, "margin": 1987.5},
        {"expr": "flows.failed_rate < 1%", "source": "--threshold", "metric": "flows.failed_rate",
         "op": "<", "limit": 1.0, "unit": "percent", "observed": 25.0, "passed": false, "margin": -24.0,
         "abort_on_fail": true, "aborted": true},
        {"expr": "login.p99 < 1s", "source": "--threshold", "metric": "login.p99", "op": "<",
         "limit": 1000.0, "unit": "ms", "observed": null, "passed": false, "margin": null}
    ]);
    let summary: load_tester::metrics::summary::Summary = serde_json::from_value(v).unwrap();
    let row = |name: &str, change: Option<f64>, verdict: &str| ComparisonRow {
        name: name.into(),
        metric: "p95".into(),
        baseline: "40 ms".into(),
        current: "45 ms".into(),
        change_pct: change,
        verdict: verdict.into(),
        note: "noise ±3%".into(),
    };
    let view = ComparisonView {
        baseline_label: "main.json".into(),
        rows: vec![
            row("chat.agent_started", Some(12.5), "worse"),
            row("chat.agent_completed", Some(-8.0), "better"),
            row("connect", Some(0.4), "same"),
            row("login", None, "same"),
        ],
    };
    let mut buf = Vec::new();
    render(&summary, Some(&view), &mut buf).unwrap();
    let page = String::from_utf8(buf).unwrap();
    // Kept for a person to look at.
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-comparison.html"),
        &page,
    );
    assert_self_contained(&page);
    let thresholds = figure_or_div(&page, "thresholds-table");
    assert_eq!(thresholds.matches("<tr>").count(), 4, "a head and 3 rows");
    for text in [
        "chat.agent_started.p95 &lt; 2s",
        "+1988 ms",
        "BREACHED (stopped the run)",
        "25%",
        "nothing measured",
    ] {
        assert!(thresholds.contains(text), "thresholds table shows {text}");
    }
    let chart = figure(&page, "chart-comparison");
    // The background and one bar per row with a change (3).
    assert_eq!(chart.matches("<rect").count(), 4, "{chart}");
    for text in ["+12.5%", "-8%", "+0.4%", "Change from the baseline"] {
        assert!(chart.contains(text), "comparison chart shows {text}");
    }
    assert!(page.contains("Comparison with main.json"));
    assert!(page.contains("<td class=\"text fail\">worse</td>"));
    assert!(page.contains("<td class=\"text pass\">better</td>"));
}

/// The element with this id, up to the end of its table.
fn figure_or_div<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("the page has no #{id}"));
    let end = page[start..].find("</table>").map(|e| start + e).unwrap();
    &page[start..end]
}
