//! HTTP route tests: health, login family (success, 422/401/403/503), JWT claims, 404/405.

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::{cfg, http, start, SECRET};
use crate::mock::{Fault, MockConfig, MockStats};

fn claims(token: &str) -> Value {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&["netra-platform"]);
    v.set_issuer(&["netra-auth-service"]);
    decode::<Value>(token, &DecodingKey::from_secret(SECRET.as_bytes()), &v)
        .expect("token verifies with the configured secret")
        .claims
}

#[tokio::test]
async fn mock_health_routes() {
    let srv = start(cfg()).await;
    for path in ["/health", "/health/ready", "/auth/health", "/ws/health"] {
        let (status, body) = http(&srv, "GET", path, &[], "").await;
        assert_eq!(status, 200, "{path}");
        assert!(body["status"].is_string(), "{path}: {body}");
    }
    assert_eq!(
        http(&srv, "GET", "/health", &[], "").await.1["status"],
        "ok"
    );
    assert_eq!(http(&srv, "GET", "/nope", &[], "").await.0, 404);
    assert_eq!(http(&srv, "POST", "/health", &[], "").await.0, 405);
    assert_eq!(http(&srv, "GET", "/auth/login", &[], "").await.0, 405);
    assert_eq!(http(&srv, "GET", "/ws", &[], "").await.0, 426);
    let no_key = [("upgrade", "websocket"), ("connection", "upgrade")];
    assert_eq!(http(&srv, "GET", "/ws", &no_key, "").await.0, 400);
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_login_returns_tokens_with_claims() {
    let srv = start(cfg()).await;
    let body = r#"{"email":"loadtest-0042@example.test","password":"pw"}"#;
    let (status, resp) = http(&srv, "POST", "/auth/login", &[], body).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["token_type"], "Bearer");
    assert_eq!(resp["expires_in"], 900);
    assert_eq!(resp["user"]["id"], "user-loadtest-0042");
    assert_eq!(resp["user"]["email"], "loadtest-0042@example.test");
    assert!(resp["user"]["permissions"].is_array());
    let c = claims(resp["access_token"].as_str().expect("access_token"));
    assert_eq!(c["sub"], "user-loadtest-0042");
    assert_eq!(c["token_type"], "access");
    assert_eq!(c["type"], "access");
    assert_eq!(c["env"], "development");
    assert_eq!(c["email"], "loadtest-0042@example.test");
    assert!(c["jti"].as_str().is_some_and(|j| j.starts_with("jti_")));
    let iat = c["iat"].as_u64().expect("iat");
    assert_eq!(c["exp"].as_u64(), Some(iat + 1800));
    let r = claims(resp["refresh_token"].as_str().expect("refresh_token"));
    assert_eq!(r["token_type"], "refresh");

    let other = r#"{"email":"someone@example.test","password":"pw"}"#;
    let (_, resp2) = http(&srv, "POST", "/auth/login", &[], other).await;
    assert_ne!(resp2["user"]["id"], resp["user"]["id"]);
    assert_eq!(srv.stats().logins, 2);
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_login_rejects_bad_bodies_with_422() {
    let srv = start(cfg()).await;
    for body in [
        "",
        "not json",
        "[1,2]",
        r#"{"email":"a@b.c"}"#,
        r#"{"password":"x"}"#,
        r#"{"email":5,"password":"x"}"#,
    ] {
        let (status, _) = http(&srv, "POST", "/auth/login", &[], body).await;
        assert_eq!(status, 422, "{body:?}");
    }
    let huge = "x".repeat(100_000);
    assert_eq!(http(&srv, "POST", "/auth/login", &[], &huge).await.0, 413);
    let s = srv.stats();
    assert_eq!((s.logins, s.login_failures), (0, 7));
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_dev_login_only_in_dev_and_test() {
    let srv = start(cfg()).await;
    let (status, resp) = http(&srv, "POST", "/auth/dev/login", &[], "{}").await;
    assert_eq!(status, 200);
    assert!(resp.get("user").is_none());
    assert_eq!(
        claims(resp["access_token"].as_str().expect("token"))["sub"],
        "dev-user-001"
    );
    assert_eq!(
        claims(resp["access_token"].as_str().expect("token"))["email"],
        "dev@example.com"
    );
    srv.shutdown().await;

    for env in ["staging", "production"] {
        let srv = start(MockConfig {
            environment: env.into(),
            ..cfg()
        })
        .await;
        assert_eq!(
            http(&srv, "POST", "/auth/dev/login", &[], "").await.0,
            403,
            "{env}"
        );
        srv.shutdown().await;
    }
}

#[tokio::test]
async fn mock_e2e_auth_paths() {
    let body = r#"{"email":"loadtest-7@example.test"}"#;
    let srv = start(cfg()).await;
    assert_eq!(
        http(&srv, "POST", "/auth/e2e/test-auth", &[], body).await.0,
        503
    );
    srv.shutdown().await;

    let keyed = MockConfig {
        e2e_key: Some("k3y".into()),
        environment: "staging".into(),
        ..cfg()
    };
    let srv = start(keyed.clone()).await;
    let path = "/auth/e2e/test-auth";
    assert_eq!(http(&srv, "POST", path, &[], body).await.0, 401);
    let wrong = [("X-E2E-Bypass-Key", "nope")];
    assert_eq!(http(&srv, "POST", path, &wrong, body).await.0, 401);
    let right = [("X-E2E-Bypass-Key", "k3y")];
    let (status, resp) = http(&srv, "POST", path, &right, body).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["user"]["id"], "e2e-loadtest-7");
    assert_eq!(resp["user"]["oauth_simulated"], true);
    assert_eq!(
        claims(resp["access_token"].as_str().expect("token"))["sub"],
        "e2e-loadtest-7"
    );
    assert_eq!(
        claims(resp["access_token"].as_str().expect("token"))["env"],
        "staging"
    );
    let s = srv.stats();
    assert_eq!((s.logins, s.login_failures), (1, 2));
    srv.shutdown().await;

    let prod = start(MockConfig {
        environment: "production".into(),
        ..keyed
    })
    .await;
    assert_eq!(http(&prod, "POST", path, &right, body).await.0, 403);
    prod.shutdown().await;
}

#[tokio::test]
async fn mock_login_401_fault_hits_exact_fraction() {
    let srv = start(MockConfig {
        fault: Some(Fault::Login401),
        fault_rate: 0.5,
        ..cfg()
    })
    .await;
    let body = r#"{"email":"a@example.test","password":"pw"}"#;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (status, resp) = http(&srv, "POST", "/auth/login", &[], body).await;
        if status == 401 {
            assert_eq!(resp["detail"], "Invalid credentials");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 401, 200, 401]);
    let s = srv.stats();
    assert_eq!(
        s,
        MockStats {
            logins: 2,
            login_failures: 2,
            ..MockStats::default()
        }
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_start_rejects_invalid_config_and_reports_url() {
    let bad = MockConfig {
        fault_rate: 2.0,
        ..cfg()
    };
    assert!(crate::mock::MockServer::start(bad).await.is_err());
    let srv = start(cfg()).await;
    assert_eq!(
        srv.base_url(),
        format!("http://127.0.0.1:{}", srv.addr().port())
    );
    srv.shutdown().await;
}
