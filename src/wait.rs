//! Waiting for the target to come up before a run (containers start in any order).

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::transport::h1::Limits;
use crate::transport::http::{HttpClient, Request};

/// Polls each URL until it answers 2xx, within `limit` in all. `Err` names the first URL that
/// never did and what it last answered.
pub async fn until_healthy(
    urls: &[String],
    limit: Duration,
    cancel: &CancellationToken,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let mut client = HttpClient::default();
            for url in urls {
                let mut last: String;
                loop {
                    let resp = client
                        .request(&Request {
                            method: &http::Method::GET,
                            url,
                            headers: &[],
                            body: b"",
                            content_type: None,
                            timeout: Duration::from_secs(2),
                            limits: Limits::default(),
                        })
                        .await
                        .map(|r| r.status);
                    match resp {
                        Ok(s) if (200..300).contains(&s) => break,
                        Ok(s) => last = format!("HTTP {s}"),
                        Err(f) => last = f.cause_text().to_string(),
                    }
                    if Instant::now() >= deadline {
                        return Err(format!(
                            "{url} did not answer 2xx within {} (last: {last})",
                            crate::duration::human(limit)
                        ));
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = cancel.cancelled() => return Err("interrupted while waiting for the target".into()),
                    }
                }
            }
            Ok(())
        })
        .await
}
