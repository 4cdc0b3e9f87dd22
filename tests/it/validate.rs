//! `validate` and scenario loading from the command line: files that are not scenarios, target
//! URLs from flags, secrets it does not need; the same checks stop `run` before any traffic.

use crate::util::*;
use load_tester::exit::Exit;

/// A scenario reading a secret it has no default for.
const NEEDS_SECRET: &str = r#"
name = "needs-secret"
[[setup]]
name = "login"
http.method = "POST"
http.url = "{{auth_url}}/auth/login"
http.json = { email = "a-{{vu}}@example.test", password = "{{env.SOME_PASSWORD}}" }
http.extract = { token = "/access_token" }
[[steps]]
name = "health"
http.url = "{{base_url}}/health"
"#;

#[tokio::test]
async fn what_is_not_a_scenario_file_is_refused_at_once() {
    let dir = tempdir();
    let fifo = dir.path().join("pipe.toml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let big = dir.path().join("big.toml");
    std::fs::write(&big, vec![b'#'; 2 << 20]).unwrap();
    let cases = [
        (
            fifo.to_str().unwrap().to_owned(),
            "pipe.toml: cannot read scenario: not a regular file",
        ),
        (
            "/dev/zero".to_owned(),
            "/dev/zero: cannot read scenario: not a regular file",
        ),
        (
            dir.path().to_str().unwrap().to_owned(),
            "cannot read scenario: it is a directory",
        ),
        (
            big.to_str().unwrap().to_owned(),
            "big.toml: cannot read scenario: larger than 1024 KiB",
        ),
    ];
    for (path, says) in cases {
        let o = run_cli(&["validate", &path], &[]).await;
        assert_eq!(o.exit, Exit::Usage, "{path}");
        assert!(o.stderr.contains(says), "{path}: {}", o.stderr);
    }
}

#[tokio::test]
async fn validate_notes_unset_secrets_and_run_refuses_them() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", NEEDS_SECRET);
    let path = path.to_str().unwrap();
    let o = run_cli(&["validate", path], &[]).await;
    assert_eq!(o.exit, Exit::Passed, "{}", o.stderr);
    assert!(
        o.stdout
            .contains("  note: uses env SOME_PASSWORD (not set; a run needs it)\n"),
        "{}",
        o.stdout
    );
    // Set, it is no note (and its value is nowhere).
    let o = run_cli(&["validate", path], &[("SOME_PASSWORD", "pw-value")]).await;
    assert_eq!(o.exit, Exit::Passed);
    assert!(!o.stdout.contains("note:") && !o.stdout.contains("pw-value"));
    let o = run_cli(&["run", path, "--mock", "--quiet"], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.stderr
            .contains("environment variable `SOME_PASSWORD` is not set and has no default"),
        "{}",
        o.stderr
    );
}

#[tokio::test]
async fn impossible_target_urls_fail_validate_and_run_without_showing_them() {
    let golden = shipped("golden-path.toml");
    let o = run_cli(
        &[
            "validate",
            &golden,
            "--target",
            "http://backend.internal:99999",
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.stderr.contains(
            "target.base_url: --target has port 99999, outside 1..=65535 (it overrides \
             [target].base_url)"
        ),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("backend.internal"), "{}", o.stderr);

    let o = run_cli(
        &[
            "run",
            &golden,
            "--auth-url=https://svc:Hunter2Secret@auth.example.test",
            "--iterations",
            "1",
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Usage, "refused before any traffic");
    assert!(
        o.stderr.contains("--auth-url holds credentials (svc:***@)"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("Hunter2Secret"), "{}", o.stderr);
}

#[tokio::test]
async fn a_scenario_with_a_bad_port_fails_validate_with_its_place() {
    let dir = tempdir();
    let text = "name = \"p\"\n[target]\nbase_url = \"http://localhost:99999\"\n[[steps]]\nname = \"h\"\nhttp.url = \"{{base_url}}/health\"\n";
    let path = scenario(dir.path(), "port.toml", text);
    let o = run_cli(&["validate", path.to_str().unwrap()], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.stderr.contains(
            "port.toml:3:12: target.base_url: target.base_url has port 99999, outside 1..=65535"
        ),
        "{}",
        o.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_target_follows_the_mock() {
    // The scenario's own ws_url and auth_url go with its base_url; --mock replaces all three.
    let dir = tempdir();
    let text = r#"
name = "elsewhere"
[target]
base_url = "http://127.0.0.1:1"
auth_url = "http://127.0.0.1:2"
ws_url = "ws://127.0.0.1:3"
[load]
users = 1
iterations = 1
[[setup]]
name = "login"
http.method = "POST"
http.url = "{{auth_url}}/auth/login"
http.json = { email = "m-{{vu}}@example.test", password = "pw" }
http.extract = { token = "/access_token" }
[[steps]]
name = "connect"
ws.connect = "{{ws_url}}/ws"
ws.subprotocols = ["jwt.{{token}}"]
[[steps]]
name = "close"
ws.close = true
"#;
    let path = scenario(dir.path(), "elsewhere.toml", text);
    let o = run_cli(&["run", path.to_str().unwrap(), "--mock", "--quiet"], &[]).await;
    assert_eq!(o.exit, Exit::Passed, "{}{}", o.stderr, o.stdout);
}
