//! Liveness and readiness for load balancers and operators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::{AppState, PROBE_TIMEOUT};

/// The process is up and answering.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when the database answers and, when configured, the broker does too.
/// 503 names each part that failed.
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match tokio::time::timeout(PROBE_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    };
    let broker = match &state.config.amqp.url {
        None => None,
        Some(url) => Some(probe_broker(url).await),
    };

    let mut checks = serde_json::Map::new();
    let mut failed = Vec::new();
    for (name, result) in [("database", Some(database)), ("broker", broker)] {
        let Some(result) = result else { continue };
        match result {
            Ok(()) => {
                checks.insert(name.into(), json!("ok"));
            }
            Err(reason) => {
                tracing::warn!(part = name, %reason, "not ready");
                checks.insert(name.into(), json!("unavailable"));
                failed.push(name);
            }
        }
    }
    if failed.is_empty() {
        (
            StatusCode::OK,
            Json(json!({ "status": "ready", "checks": checks })),
        )
    } else {
        let body = json!({
            "status": "unavailable",
            "checks": checks,
            "error": {
                "code": "not_ready",
                "message": format!("unavailable: {}", failed.join(", ")),
                "field": null
            }
        });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body))
    }
}

/// Opens and closes an AMQP connection: the broker accepted our credentials and vhost.
async fn probe_broker(url: &str) -> Result<(), String> {
    let connect = lapin::Connection::connect(url, lapin::ConnectionProperties::default());
    match tokio::time::timeout(PROBE_TIMEOUT, connect).await {
        Ok(Ok(conn)) => {
            let _ = conn.close(200, "readiness probe".into()).await;
            Ok(())
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    }
}
