//! Jinguo's HTTP face: the JSON API under `/api/v1`, health and readiness, and pages.

mod error;
mod health;
mod orgs;
mod pages;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use jinguo_config::Config;
use jinguo_store::Store;
use tokio::net::TcpListener;

pub use error::ApiError;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
}

/// How long a readiness probe waits for each dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.http.body_limit_bytes;
    // Mail written to files can be read here during development; never on a public address.
    let mailbox = state.config.http.addr.ip().is_loopback() && state.config.mail.smtp_url.is_none();
    let router = if mailbox {
        Router::new().route("/dev/mailbox", get(pages::mailbox))
    } else {
        Router::new()
    };
    router
        .route("/", get(pages::start))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/v1/orgs/{code}", get(orgs::show))
        .route("/api/v1/orgs/{code}/children", get(orgs::children))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            body_limit,
            error::refuse_oversized,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting and lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
