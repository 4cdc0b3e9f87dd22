//! HTTP routes: health, the login family (login, dev login, e2e test-auth), the WebSocket upgrade
//! and the mock's own counters (`GET /__mock/stats`).
//!
//! Design choice: one router for "backend" and "auth" paths; the upgrade is decided here (token
//! found and verified, subprotocol picked) and handed with hyper's `OnUpgrade` to the connection
//! task, which runs the session once hyper has written the 101 — no extra task per socket.

use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::jwt::TokenKind;
use super::wsauth::{self, WsParams};
use super::Shared;

/// Largest request body read (login bodies are tiny).
const MAX_BODY: usize = 64 * 1024;

/// An accepted WebSocket upgrade, passed to the connection task.
pub struct Upgrade {
    pub on: hyper::upgrade::OnUpgrade,
    pub params: WsParams,
}

type Resp = Response<Full<Bytes>>;

/// Routes one request. Never fails: every problem is an HTTP status.
pub async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    upgrades: mpsc::Sender<Upgrade>,
) -> Result<Resp, Infallible> {
    let route = Route::of(req.uri().path());
    let Some(route) = route else {
        return Ok(json_resp(
            StatusCode::NOT_FOUND,
            json!({"detail": "Not Found"}),
        ));
    };
    let allowed = if route.is_post() {
        Method::POST
    } else {
        Method::GET
    };
    if req.method() != allowed && !(allowed == Method::GET && req.method() == Method::HEAD) {
        let mut r = json_resp(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"detail": "Method Not Allowed"}),
        );
        r.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_static(if route.is_post() { "POST" } else { "GET, HEAD" }),
        );
        return Ok(r);
    }
    Ok(match route {
        Route::Health => json_resp(StatusCode::OK, json!({"status": "ok"})),
        Route::Ready => json_resp(StatusCode::OK, json!({"status": "ready"})),
        Route::AuthHealth => json_resp(
            StatusCode::OK,
            json!({"status": "healthy", "service": "auth-service", "version": "1.0.0"}),
        ),
        Route::WsHealth => json_resp(StatusCode::OK, json!({"status": "healthy"})),
        // The same text as the line `mock` prints when it stops (fields in their order).
        Route::Stats => json_text_resp(StatusCode::OK, shared.counts().to_json_line()),
        Route::Ws => upgrade(req, &shared, &upgrades),
        Route::Login | Route::DevLogin | Route::E2e => {
            let resp = login_route(route, req, &shared).await;
            let counter = if resp.status().is_success() {
                &shared.counters.logins
            } else {
                &shared.counters.login_failures
            };
            counter.fetch_add(1, Relaxed);
            resp
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Health,
    Ready,
    AuthHealth,
    WsHealth,
    Login,
    DevLogin,
    E2e,
    Ws,
    /// `GET /__mock/stats`: what the mock has sent (not part of the platform's protocol).
    Stats,
}

impl Route {
    fn of(path: &str) -> Option<Route> {
        Some(match path {
            "/health" | "/health/live" => Route::Health,
            "/health/ready" => Route::Ready,
            "/auth/health" => Route::AuthHealth,
            "/ws/health" => Route::WsHealth,
            "/auth/login" | "/api/v1/auth/login" => Route::Login,
            "/auth/dev/login" | "/api/v1/auth/dev_login" => Route::DevLogin,
            "/auth/e2e/test-auth" => Route::E2e,
            "/ws" | "/api/v1/websocket" => Route::Ws,
            "/__mock/stats" => Route::Stats,
            _ => return None,
        })
    }

    fn is_post(self) -> bool {
        matches!(self, Route::Login | Route::DevLogin | Route::E2e)
    }
}

fn json_resp(status: StatusCode, body: Value) -> Resp {
    json_text_resp(status, body.to_string())
}

/// A response whose body is this JSON text.
fn json_text_resp(status: StatusCode, body: String) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn detail(status: StatusCode, msg: &str) -> Resp {
    json_resp(status, json!({"detail": msg}))
}

fn unprocessable(field: &str) -> Resp {
    json_resp(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"detail": [{"loc": ["body", field], "msg": "Field required", "type": "missing"}]}),
    )
}

/// Reads the body as JSON: `Ok(None)` for an empty body, `Err` for too large or not JSON.
async fn json_body(req: Request<Incoming>) -> Result<Option<Value>, Resp> {
    let bytes = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Err(detail(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large",
            ))
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|_| unprocessable("body"))
}

fn str_field<'a>(body: &'a Option<Value>, key: &str) -> Option<&'a str> {
    body.as_ref()?.get(key)?.as_str()
}

fn local_part(email: &str) -> &str {
    email.split('@').next().unwrap_or(email)
}

async fn login_route(route: Route, req: Request<Incoming>, shared: &Shared) -> Resp {
    let cfg = &shared.cfg;
    match route {
        Route::DevLogin if !cfg.dev_login_allowed() => {
            return detail(
                StatusCode::FORBIDDEN,
                "Dev login is only available in development and test environments",
            )
        }
        Route::E2e => {
            if cfg.is_production() {
                return detail(
                    StatusCode::FORBIDDEN,
                    "E2E bypass is not available in production",
                );
            }
            let Some(key) = &cfg.e2e_key else {
                return detail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "E2E bypass key not configured",
                );
            };
            let offered = req
                .headers()
                .get("x-e2e-bypass-key")
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            if !same_bytes(offered, key.expose().as_bytes()) {
                return detail(StatusCode::UNAUTHORIZED, "Invalid E2E bypass key");
            }
        }
        _ => {}
    }
    let body = match json_body(req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let perms = vec!["read".to_string(), "write".to_string()];
    let (user_id, email, name, user) = match route {
        Route::Login => {
            let Some(email) = str_field(&body, "email").filter(|e| !e.is_empty()) else {
                return unprocessable("email");
            };
            if str_field(&body, "password").is_none() {
                return unprocessable("password");
            }
            let name = local_part(email).to_string();
            (format!("user-{name}"), email.to_string(), name, true)
        }
        Route::E2e => {
            let email = str_field(&body, "email").unwrap_or("e2e-user@example.test");
            let name = str_field(&body, "name").unwrap_or("E2E Test User");
            let id = format!("e2e-{}", local_part(email));
            (id, email.to_string(), name.to_string(), true)
        }
        _ => (
            "dev-user-001".to_string(),
            "dev@example.com".to_string(),
            "Dev User".to_string(),
            false,
        ),
    };
    if shared.login_faulted() {
        return detail(StatusCode::UNAUTHORIZED, "Invalid credentials");
    }
    let keys = &shared.keys;
    let tokens = keys
        .mint(TokenKind::Access, &user_id, &email, &perms)
        .and_then(|a| Ok((a, keys.mint(TokenKind::Refresh, &user_id, &email, &perms)?)));
    let Ok((access, refresh)) = tokens else {
        return detail(StatusCode::INTERNAL_SERVER_ERROR, "Token creation failed");
    };
    let mut out = json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": 900,
    });
    if user {
        let mut u = json!({"id": user_id, "email": email, "name": name, "permissions": perms});
        if route == Route::E2e {
            u["oauth_simulated"] = true.into();
        }
        out["user"] = u;
    }
    json_resp(StatusCode::OK, out)
}

/// Comparison whose time does not depend on where the first difference is.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Answers a WebSocket upgrade with 101 (auth failures too: they are reported in-band, then closed).
fn upgrade(mut req: Request<Incoming>, shared: &Shared, upgrades: &mpsc::Sender<Upgrade>) -> Resp {
    let h = req.headers();
    let wants_ws = h
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !wants_ws {
        return detail(StatusCode::UPGRADE_REQUIRED, "WebSocket upgrade required");
    }
    let Some(key) = h.get(header::SEC_WEBSOCKET_KEY) else {
        return detail(StatusCode::BAD_REQUEST, "Missing Sec-WebSocket-Key");
    };
    let accept = derive_accept_key(key.as_bytes());
    let (params, protocol) = wsauth::negotiate(h, req.uri().query(), &shared.keys);
    let on = hyper::upgrade::on(&mut req);
    if upgrades.try_send(Upgrade { on, params }).is_err() {
        return detail(StatusCode::SERVICE_UNAVAILABLE, "Upgrade already pending");
    }
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let rh = r.headers_mut();
    rh.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    rh.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        rh.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if let Some(p) = protocol.and_then(|p| HeaderValue::from_str(&p).ok()) {
        rh.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    r
}
