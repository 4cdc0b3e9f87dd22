//! `[data]` and `jwt` steps as compiled: columns become variables, rows are shared, and every
//! problem in the data file or the step is placed (file:line) without quoting a value.

use std::path::Path;

use super::compile;
use crate::plan::feeder::Mode;
use crate::plan::{Plan, StepKind};
use crate::scenario::{Diagnostic, Overrides};

const PEM: &str = include_str!("../../../tests/fixtures/jwt/rsa-private.pem");

fn env(name: &str) -> Option<String> {
    match name {
        "JWT_SECRET" => Some("hs-s3cret".into()),
        "RSA_KEY" => Some(PEM.into()),
        // One line, its breaks written as `\n` (a single-line env file).
        "RSA_KEY_ONE_LINE" => Some(PEM.replace('\n', "\\n")),
        "NOT_PEM" => {
            Some("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n".into())
        }
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

/// Writes `scenario.toml` and the data files into a new directory and compiles it.
fn compile_with(
    scenario: &str,
    files: &[(&str, &str)],
    o: &Overrides,
) -> (tempfile::TempDir, Result<Plan, Vec<Diagnostic>>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write data file");
    }
    let path = dir.path().join("scenario.toml");
    let result = compile(scenario, &path, o, &env);
    (dir, result)
}

/// Each diagnostic as `file-name:line: field: message` (the directory left out).
fn lines(dir: &Path, diags: &[Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .map(|d| {
            let shown = d.to_string();
            shown.replace(&format!("{}/", dir.display()), "")
        })
        .collect()
}

fn data_scenario(data: &str, vars: &str) -> String {
    format!(
        r#"name = "feeder"
[load]
users = 3
{vars}
[data]
{data}
[[setup]]
name = "login"
http.method = "POST"
http.url = "http://127.0.0.1:1/auth/login"
http.json = {{ email = "{{{{email}}}}", password = "{{{{password}}}}" }}
[[steps]]
name = "idle"
think = "1ms"
"#
    )
}

const USERS: &str = "email,password\na@x.test,pw-a\nb@x.test,pw-b\nc@x.test,pw-c\n";

#[test]
fn columns_become_variables_and_users_take_rows_by_mode() {
    let s = data_scenario(
        "file = \"users.csv\"\nmode = \"unique\"\nsecret = [\"password\"]",
        "",
    );
    let (_dir, plan) = compile_with(&s, &[("users.csv", USERS)], &Overrides::default());
    let plan = plan.expect("compiles");
    let feeder = plan.feeder.as_ref().expect("a feeder");
    assert_eq!(feeder.mode, Mode::Unique);
    assert_eq!(feeder.table.rows(), 3);
    let names: Vec<(&str, bool)> = plan
        .vars
        .iter()
        .map(|v| (v.name.as_str(), v.secret))
        .collect();
    assert_eq!(names, [("email", false), ("password", true)]);
    let mut vars = vec![None, None];
    feeder.fill(2, &mut vars);
    assert_eq!(vars, [Some("c@x.test".into()), Some("pw-c".into())]);
    assert!(
        !format!("{plan:?}").contains("pw-a"),
        "Debug never shows cells"
    );

    // random: the seed is data.seed, else load.seed, else 1.
    let s = data_scenario("file = \"users.jsonl\"\nmode = \"random\"", "");
    let jsonl = "{\"email\":\"a\",\"password\":\"p\"}\n";
    let (_dir, plan) = compile_with(&s, &[("users.jsonl", jsonl)], &Overrides::default());
    assert_eq!(
        plan.unwrap().feeder.as_ref().unwrap().mode,
        Mode::Random { seed: 1 }
    );
    let s = data_scenario("file = \"users.jsonl\"\nmode = \"random\"\nseed = 9", "");
    let (_dir, plan) = compile_with(&s, &[("users.jsonl", jsonl)], &Overrides::default());
    assert_eq!(
        plan.unwrap().feeder.as_ref().unwrap().mode,
        Mode::Random { seed: 9 }
    );
}

#[test]
fn unique_refuses_more_users_than_rows_with_the_counts() {
    let s = data_scenario("file = \"users.csv\"\nmode = \"unique\"", "");
    let o = Overrides {
        users: Some(4),
        ..Default::default()
    };
    let (dir, plan) = compile_with(&s, &[("users.csv", USERS)], &o);
    let diags = plan.expect_err("4 users, 3 rows");
    assert_eq!(
        lines(dir.path(), &diags),
        [
            "scenario.toml:7:8: data.mode: mode = \"unique\" needs a row per user: 4 users but \
          users.csv has 3 rows; add rows, run fewer users, or use mode = \"sequential\" (rows are \
          reused)"
        ]
    );
    let s = data_scenario("file = \"users.csv\"\nmode = \"sequential\"", "");
    let (_dir, plan) = compile_with(&s, &[("users.csv", USERS)], &o);
    assert!(plan.is_ok(), "sequential reuses rows");
}

#[test]
fn data_file_errors_are_placed_in_the_data_file() {
    let s = data_scenario(
        "file = \"users.csv\"\nsecret = [\"pasword\"]",
        "[vars]\nemail = \"x\"",
    );
    let csv = "email,password,vu\na@x.test,pw-a,1\nb@x.test,secret-b\n";
    let (dir, plan) = compile_with(&s, &[("users.csv", csv)], &Overrides::default());
    let diags = plan.expect_err("bad rows");
    let shown = lines(dir.path(), &diags);
    assert_eq!(
        shown,
        ["users.csv:3:1: data.file: this row has 2 fields, the header has 3: every row needs one \
          field per column (quote a value that holds a comma)"],
        "a bad row stops before the columns are checked"
    );
    assert!(!shown.concat().contains("secret-b"));

    let csv = "email,password,vu\na@x.test,pw-a,1\n";
    let (dir, plan) = compile_with(&s, &[("users.csv", csv)], &Overrides::default());
    let shown = lines(dir.path(), &plan.expect_err("bad columns"));
    assert_eq!(shown.len(), 3, "{shown:#?}");
    assert!(shown[0].starts_with(
        "users.csv:1:1: data.file: column `email` collides with the scenario's variable `email`"
    ));
    assert!(shown[1].starts_with("users.csv:1:1: data.file: column `vu` is a built-in name"));
    assert_eq!(
        shown[2],
        "scenario.toml:8:11: data.secret[0]: `pasword` is not a column of users.csv (its columns: \
         email, password, vu)"
    );

    let s = data_scenario("file = \"users.jsonl\"", "");
    let jsonl = "{\"email\":\"a\",\"password\":\"p\"}\n\n\"just a string\"\n{\"email\":\"b\"}\n";
    let (dir, plan) = compile_with(&s, &[("users.jsonl", jsonl)], &Overrides::default());
    let shown = lines(dir.path(), &plan.expect_err("bad lines"));
    assert_eq!(shown.len(), 2, "{shown:#?}");
    assert!(
        shown[0].starts_with("users.jsonl:3:1: data.file: the line is a string, not a JSON object")
    );
    assert!(shown[1]
        .starts_with("users.jsonl:4:1: data.file: the keys differ from line 1; missing: password"));

    for (file, text, want) in [
        (
            "empty.csv",
            "",
            "scenario.toml:6:8: data.file: empty.csv: the file is empty",
        ),
        (
            "header.csv",
            "email\n",
            "scenario.toml:6:8: data.file: header.csv: the file has a header but no rows",
        ),
    ] {
        let s = data_scenario(&format!("file = \"{file}\""), "");
        let (dir, plan) = compile_with(&s, &[(file, text)], &Overrides::default());
        let shown = lines(dir.path(), &plan.expect_err(file));
        assert!(shown[0].starts_with(want), "{shown:?}");
    }

    let s = data_scenario("file = \"missing.csv\"\nmode = \"every\"", "");
    let (dir, plan) = compile_with(&s, &[], &Overrides::default());
    let shown = lines(dir.path(), &plan.expect_err("missing"));
    assert_eq!(
        shown,
        [
            "scenario.toml:6:8: data.file: missing.csv: cannot read data file: No such file or \
             directory (os error 2)",
            "scenario.toml:7:8: data.mode: data.mode must be \"sequential\", \"unique\" or \
             \"random\" (got \"every\")",
        ]
    );
    let s = data_scenario("file = \"users.txt\"", "");
    let (dir, plan) = compile_with(&s, &[("users.txt", USERS)], &Overrides::default());
    let shown = lines(dir.path(), &plan.expect_err("no format"));
    assert!(
        shown[0].starts_with("scenario.toml:6:8: data.file: cannot tell the format of users.txt")
    );
    let s = data_scenario("file = \"users.txt\"\nformat = \"csv\"", "");
    let (_dir, plan) = compile_with(&s, &[("users.txt", USERS)], &Overrides::default());
    assert!(plan.is_ok());
}

fn jwt_scenario(jwt: &str) -> String {
    format!(
        r#"name = "minted"
[[setup]]
name = "mint"
{jwt}
[[steps]]
name = "login"
http.url = "http://127.0.0.1:1/me"
http.headers = {{ Authorization = "Bearer {{{{token}}}}" }}
"#
    )
}

const HS: &str = r#"jwt.alg = "HS256"
jwt.key = "{{env.JWT_SECRET}}"
jwt.claims = { sub = "loadtest-{{vu}}", n = 3, admin = false }
jwt.expires_in = "15m"
jwt.into = "token""#;

#[test]
fn jwt_steps_compile_with_keys_from_the_environment() {
    let (_dir, plan) = compile_with(&jwt_scenario(HS), &[], &Overrides::default());
    let plan = plan.expect("compiles");
    let StepKind::Jwt(j) = &plan.steps[0].kind else {
        panic!("a jwt step");
    };
    assert_eq!(j.alg, jsonwebtoken::Algorithm::HS256);
    assert_eq!(j.expires_in, Some(std::time::Duration::from_secs(900)));
    assert_eq!(plan.vars[usize::from(j.into)].name, "token");
    assert!(
        plan.vars[usize::from(j.into)].secret,
        "a minted token is a secret"
    );
    let shown = format!("{:?}", plan.steps[0]);
    assert!(!shown.contains("hs-s3cret") && shown.contains("key: \"***\""));
    assert!(
        !format!("{plan:?}").contains("hs-s3cret"),
        "a debug print masks it"
    );
    assert_eq!(
        &*plan.secrets,
        ["hs-s3cret"],
        "the key is masked in transcripts too"
    );
    for key in ["RSA_KEY", "RSA_KEY_ONE_LINE"] {
        let rs = HS.replace("HS256", "RS256").replace("JWT_SECRET", key);
        let (_dir, plan) = compile_with(&jwt_scenario(&rs), &[], &Overrides::default());
        assert!(plan.is_ok(), "{key}: {:?}", plan.err());
    }
}

#[test]
fn jwt_errors_are_placed_and_never_show_keys() {
    let cases: [(&str, &str, &str); 6] = [
        ("HS256", "{{env.JWT_SECRET}}", ""),
        ("ES256", "{{env.JWT_SECRET}}", "jwt.alg: jwt.alg \"ES256\" is not supported; use one of HS256, HS384, HS512, RS256, RS384, RS512"),
        ("HS256", "literal-key", "jwt.key: jwt.key must be exactly {{env.NAME}}"),
        ("HS256", "{{env.JWT_SECRET:-fallback}}", "jwt.key: jwt.key must be exactly {{env.NAME}}"),
        ("HS256", "{{env.MISSING}}", "jwt.key: environment variable `MISSING` is not set: it must hold the HMAC secret"),
        ("RS256", "{{env.NOT_PEM}}", "jwt.key: environment variable `NOT_PEM` does not hold an RSA private key in PEM form"),
    ];
    for (alg, key, want) in cases {
        let text = HS.replace("HS256", alg).replace("{{env.JWT_SECRET}}", key);
        let (_dir, plan) = compile_with(&jwt_scenario(&text), &[], &Overrides::default());
        if want.is_empty() {
            assert!(plan.is_ok());
            continue;
        }
        let diags = plan.expect_err(want);
        assert_eq!(diags.len(), 1, "{diags:?}");
        let shown = diags[0].to_string();
        assert!(
            shown.contains(&format!(
                "scenario.toml:{}:",
                if want.starts_with("jwt.alg") { 4 } else { 5 }
            )),
            "{shown}"
        );
        assert!(shown.contains(&format!("step 'mint': {want}")), "{shown}");
        assert!(!shown.contains("hs-s3cret") && !shown.contains("bm90IGEga2V5"));
    }
    let (_dir, plan) = compile_with(
        &jwt_scenario(&HS.replace("JWT_SECRET", "EMPTY")),
        &[],
        &Overrides::default(),
    );
    assert!(plan.unwrap_err()[0].message.contains("`EMPTY` is empty"));
    let clash = HS.replace("n = 3", "exp = 1");
    let (_dir, plan) = compile_with(&jwt_scenario(&clash), &[], &Overrides::default());
    let diags = plan.unwrap_err();
    assert_eq!(diags.len(), 1);
    assert!(
        diags[0].to_string().contains(
            "scenario.toml:6:41: step 'mint': jwt.claims.exp: claim `exp` is set by jwt.expires_in"
        ),
        "{}",
        diags[0]
    );
    // validate: an unset key is noted, not an error.
    let o = Overrides {
        allow_unset_env: true,
        ..Default::default()
    };
    let (_dir, plan) = compile_with(&jwt_scenario(&HS.replace("JWT_SECRET", "MISSING")), &[], &o);
    assert_eq!(plan.expect("validate").unset_env, ["MISSING"]);
}
