//! Target URLs, their sources and overrides; step URLs and headers as compiled; `validate`'s
//! leniency about unset environment variables.

use std::path::{Path, PathBuf};

use super::compile;
use crate::plan::{Place, Plan, StepKind, TargetUrl, UrlSource};
use crate::scenario::template::Part;
use crate::scenario::{Diagnostic, Overrides};

fn no_env(_: &str) -> Option<String> {
    None
}

fn golden() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden-path.toml")
}

fn compile_golden(o: &Overrides) -> Result<Plan, Vec<Diagnostic>> {
    let path = golden();
    let text = std::fs::read_to_string(&path).expect("shipped scenario");
    compile(&text, &path, o, &no_env)
}

fn compile_text(text: &str, o: &Overrides) -> Result<Plan, Vec<Diagnostic>> {
    compile(text, Path::new("t.toml"), o, &no_env)
}

fn at(line: usize, col: usize) -> Place {
    Place {
        file: golden(),
        line,
        col,
    }
}

fn with_base(value: &str, from: UrlSource) -> Overrides {
    let mut o = Overrides::default();
    o.set_url(TargetUrl::Base, Some(value.into()), from);
    o
}

#[test]
fn scenario_urls_keep_their_place() {
    let plan = compile_golden(&Overrides::default()).unwrap();
    let t = &plan.target;
    assert_eq!(
        t.sources.base_url,
        UrlSource::Scenario {
            place: at(9, 12),
            field: "base_url"
        }
    );
    assert_eq!(
        t.sources.auth_url,
        UrlSource::Scenario {
            place: at(10, 12),
            field: "auth_url"
        }
    );
    assert_eq!(t.sources.ws_url, UrlSource::Derived(TargetUrl::Base));
    let file = golden().display().to_string();
    assert_eq!(
        plan.where_from(TargetUrl::Auth),
        format!(
            "auth_url http://localhost:8081 from {file}:10 ([target].auth_url); override with \
             --auth-url or AUTH_URL"
        )
    );
    assert_eq!(
        plan.where_from(TargetUrl::Ws),
        format!(
            "ws_url ws://localhost:8000 derived from base_url, which is from {file}:9 \
             ([target].base_url); override with --ws-url or LOAD_TESTER_WS_URL"
        )
    );
    // Each step knows which target URL it starts with.
    let StepKind::Http(login) = &plan.steps[0].kind else {
        panic!("login is http")
    };
    assert_eq!(login.url_from, Some(TargetUrl::Auth));
    let StepKind::WsConnect(connect) = &plan.steps[1].kind else {
        panic!("connect is ws.connect")
    };
    assert_eq!(connect.url_from, Some(TargetUrl::Ws));
}

#[test]
fn an_overridden_target_takes_auth_and_ws_along() {
    let o = with_base("http://10.1.2.3:9000", UrlSource::Env("TARGET_URL"));
    let plan = compile_golden(&o).unwrap();
    let t = &plan.target;
    assert_eq!(
        (t.base_url.as_str(), t.auth_url.as_str(), t.ws_url.as_str()),
        (
            "http://10.1.2.3:9000",
            "http://10.1.2.3:9000",
            "ws://10.1.2.3:9000"
        )
    );
    assert_eq!(t.sources.base_url, UrlSource::Env("TARGET_URL"));
    assert_eq!(t.sources.auth_url, UrlSource::Derived(TargetUrl::Base));
    assert_eq!(
        plan.where_from(TargetUrl::Auth),
        "auth_url http://10.1.2.3:9000 derived from base_url, which is from env TARGET_URL; \
         override with --auth-url or AUTH_URL"
    );
    let StepKind::Http(login) = &plan.steps[0].kind else {
        panic!("login is http")
    };
    assert_eq!(
        login.url.parts,
        [Part::Lit("http://10.1.2.3:9000/auth/login".into())]
    );

    // An auth override of its own stays; a scenario's ws_url yields to the overridden target.
    let text = "name = \"x\"\n[target]\nbase_url = \"http://a:1\"\nws_url = \"ws://other:2\"\n\
                [[steps]]\nname = \"c\"\nws.connect = \"{{ws_url}}/ws\"\n";
    let mut o = with_base("https://b.example.test/", UrlSource::Flag("--target"));
    o.set_url(
        TargetUrl::Auth,
        Some("https://auth.example.test".into()),
        UrlSource::Flag("--auth-url"),
    );
    let plan = compile_text(text, &o).unwrap();
    assert_eq!(plan.target.auth_url, "https://auth.example.test");
    assert_eq!(plan.target.ws_url, "wss://b.example.test");
    assert_eq!(
        plan.where_from(TargetUrl::Auth),
        "auth_url https://auth.example.test from --auth-url; override with --auth-url or AUTH_URL"
    );
    // Without an override, the scenario's ws_url holds.
    let plan = compile_text(text, &Overrides::default()).unwrap();
    assert_eq!(plan.target.ws_url, "ws://other:2");
    assert_eq!(plan.target.auth_url, "http://a:1");
}

#[test]
fn the_mock_and_the_default_say_so() {
    let plan = compile_golden(&with_base("http://127.0.0.1:4242", UrlSource::Mock)).unwrap();
    assert_eq!(
        plan.where_from(TargetUrl::Base),
        "base_url http://127.0.0.1:4242 from the built-in mock (--mock)"
    );
    let plan = compile_text(
        "name = \"m\"\n[[steps]]\nname = \"h\"\nhttp.url = \"{{base_url}}/h\"\n",
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(plan.target.sources.base_url, UrlSource::Default);
    assert_eq!(
        plan.where_from(TargetUrl::Base),
        "base_url http://localhost:8000 (the built-in default); override with --target or \
         TARGET_URL"
    );
}

#[test]
fn bad_overrides_name_their_flag_or_env_var_and_never_their_value() {
    let mut o = with_base(
        "http://backend.internal:99999",
        UrlSource::Env("TARGET_URL"),
    );
    o.set_url(
        TargetUrl::Auth,
        Some("https://svc:Sup3rS3cret@auth.internal".into()),
        UrlSource::Flag("--auth-url"),
    );
    o.set_url(
        TargetUrl::Ws,
        Some("http://ws.internal".into()),
        UrlSource::Env("LOAD_TESTER_WS_URL"),
    );
    let ds = compile_golden(&o).unwrap_err();
    let got: Vec<(usize, Option<&str>, &str)> = ds
        .iter()
        .map(|d| (d.place.line, d.field.as_deref(), d.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                0,
                Some("target.base_url"),
                "env TARGET_URL has port 99999, outside 1..=65535 (it overrides [target].base_url)"
            ),
            (
                0,
                Some("target.auth_url"),
                "--auth-url holds credentials (svc:***@), which are refused in URLs (they would be \
                 printed and logged): send them in a header instead, e.g. Authorization = \
                 \"Basic ...\" or \"Bearer {{env.TOKEN}}\" in http.headers / ws.headers (it \
                 overrides [target].auth_url)"
            ),
            (
                0,
                Some("target.ws_url"),
                "env LOAD_TESTER_WS_URL must be an absolute URL starting with ws:// or wss:// (it overrides \
                 [target].ws_url)"
            ),
        ]
    );
    for d in &ds {
        let shown = d.to_string();
        assert!(
            !shown.contains("Sup3rS3cret") && !shown.contains("internal"),
            "{shown}"
        );
    }
    // An override without a known source names the flag and its env var.
    let o = Overrides {
        base_url: Some("ftp://x".into()),
        ..Overrides::default()
    };
    let ds = compile_golden(&o).unwrap_err();
    assert!(
        ds[0]
            .message
            .starts_with("--target (or TARGET_URL) must be"),
        "{ds:?}"
    );
}

#[test]
fn step_urls_are_checked_as_far_as_they_are_known() {
    let step = |url: &str| {
        let text = format!(
            "name = \"u\"\n[vars]\nhost = \"h\"\n[[steps]]\nname = \"s\"\nhttp.url = \"{url}\"\n"
        );
        compile_text(&text, &Overrides::default())
            .err()
            .map(|ds| ds.iter().map(|d| d.message.clone()).collect::<Vec<_>>())
    };
    assert_eq!(step("http://h:8080/x?y=1"), None);
    assert_eq!(step("{{base_url}}/x/{{vu}}"), None);
    assert_eq!(
        step("http://{{host}}:99999/x"),
        None,
        "host unknown: scheme only"
    );
    assert_eq!(
        step("{{host}}"),
        None,
        "a per-user URL is checked when rendered"
    );
    assert_eq!(
        step("http://h:99999/{{vu}}"),
        Some(vec!["http.url has port 99999, outside 1..=65535".to_owned()])
    );
    assert_eq!(
        step("{{base_url}}:9000/x"),
        Some(vec!["http.url has a port that is not a number".to_owned()])
    );
    assert_eq!(
        step("{{ws_url}}/x"),
        Some(vec![
            "http.url must be an absolute URL starting with http:// or https://: start it with \
             {{base_url}} or {{auth_url}}"
                .to_owned()
        ])
    );
    assert_eq!(
        step(""),
        Some(vec![
            "http.url is empty: give a URL, e.g. \"{{base_url}}/health\"".to_owned()
        ])
    );
    // A user name from the environment is not shown either.
    let text = "name = \"u\"\n[[steps]]\nname = \"s\"\nhttp.url = \"http://{{env.U:-me}}:pw@h/\"\n";
    let ds = compile_text(text, &Overrides::default()).unwrap_err();
    assert!(ds[0].message.contains("(***@)"), "{}", ds[0].message);
}

#[test]
fn default_headers_are_kept_for_the_transport_to_replace() {
    let text = r#"
name = "h"
[[steps]]
name = "a"
http.url = "{{base_url}}/x"
http.headers = { Host = "api.example.test", "User-Agent" = "ci/1", "Content-Type" = "text/plain", Accept = "*/*" }
[[steps]]
name = "c"
ws.connect = "{{ws_url}}/ws"
ws.headers = { Host = "chat.example.test", Origin = "https://app.example.test" }
"#;
    let plan = compile_text(text, &Overrides::default()).unwrap();
    let StepKind::Http(h) = &plan.steps[0].kind else {
        panic!("http")
    };
    let names: Vec<&str> = h.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["host", "user-agent", "content-type", "accept"]);
    let StepKind::WsConnect(c) = &plan.steps[1].kind else {
        panic!("ws.connect")
    };
    let names: Vec<&str> = c.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["host", "origin"]);
}

#[test]
fn validate_notes_unset_env_vars_where_a_run_refuses_them() {
    let text = r#"
name = "e"
[[setup]]
name = "login"
http.method = "POST"
http.url = "{{env.AUTH_BASE}}/login"
http.headers = { "X-Key" = "{{env.BYPASS_KEY}}" }
http.json = { password = "{{env.BYPASS_KEY}}", user = "{{env.USER_NAME:-u}}" }
[[steps]]
name = "c"
ws.connect = "{{ws_url}}/ws"
"#;
    let ds = compile_text(text, &Overrides::default()).unwrap_err();
    assert_eq!(ds.len(), 3, "{ds:#?}");
    assert!(ds
        .iter()
        .all(|d| d.message.contains("is not set and has no default")));
    let o = Overrides {
        allow_unset_env: true,
        ..Overrides::default()
    };
    let plan = compile_text(text, &o).unwrap();
    assert_eq!(plan.unset_env, ["AUTH_BASE", "BYPASS_KEY"]);
}

#[test]
fn flags_and_env_names_match_the_command_line() {
    use clap::CommandFactory;
    let cli = crate::cli::Cli::command();
    for cmd in ["run", "probe", "validate"] {
        let sub = cli.find_subcommand(cmd).expect("subcommand");
        for which in TargetUrl::ALL {
            let arg = sub
                .get_arguments()
                .find(|a| a.get_long().map(|l| format!("--{l}")).as_deref() == Some(which.flag()))
                .unwrap_or_else(|| panic!("{cmd} has no {}", which.flag()));
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            assert_eq!(env.as_deref(), Some(which.env()), "{cmd} {}", which.flag());
        }
    }
}

#[test]
fn flag_or_env_tells_them_apart() {
    use crate::scenario::flag_given;
    let args = |a: &[&str]| {
        a.iter()
            .map(Into::into)
            .collect::<Vec<std::ffi::OsString>>()
    };
    assert!(flag_given(
        &args(&["run", "x", "--target", "http://h"]),
        "--target"
    ));
    assert!(flag_given(
        &args(&["run", "x", "--target=http://h"]),
        "--target"
    ));
    assert!(!flag_given(&args(&["run", "x", "--targets=1"]), "--target"));
    assert!(!flag_given(&args(&["run", "--", "--target"]), "--target"));
    let mut o = Overrides::default();
    o.set_urls_from_args(
        [Some("http://a".into()), Some("http://b".into()), None],
        &args(&["run", "x", "--auth-url", "http://b"]),
    );
    assert_eq!(o.base_url_from, Some(UrlSource::Env("TARGET_URL")));
    assert_eq!(o.auth_url_from, Some(UrlSource::Flag("--auth-url")));
    assert_eq!((o.ws_url.as_deref(), o.ws_url_from.as_ref()), (None, None));
}
