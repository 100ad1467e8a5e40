//! One error type for every endpoint, rendered as
//! `{"error": {"code": "...", "message": "...", "field": "..."}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An answer that is not a success. 4xx carry a message for the caller; a 5xx logs its cause
/// once and shows the caller only a reference to find it in the logs.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<&'static str>,
}

impl ApiError {
    pub fn bad_request(field: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            message: message.into(),
            field: Some(field),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
            field: None,
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: message.into(),
            field: None,
        }
    }

    pub fn forbidden(action: &str) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: format!("not permitted: {action}"),
            field: None,
        }
    }

    /// Logs the whole cause chain and answers 500 with a reference to the log line.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> ApiError {
        let reference = reference();
        let chain = jinguo_core::error_chain(cause);
        tracing::error!(reference, error = %chain, "request failed");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: format!("internal error, reference {reference}"),
            field: None,
        }
    }
}

/// A short reference, unique enough to find one log line.
fn reference() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("{:x}-{}", nanos, NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A fault of the database link (no connection, or the connection lost twice before commit, or
/// at commit) is ours, not the caller's: 503 `unavailable`, to be asked again later — never a
/// 500. It is logged as a warning with its cause; anything else is an internal error.
impl From<jinguo_store::StoreError> for ApiError {
    fn from(e: jinguo_store::StoreError) -> Self {
        if !e.is_unavailable() {
            return ApiError::internal(&e);
        }
        let chain = jinguo_core::error_chain(&e);
        tracing::warn!(error = %chain, "database unavailable; answering 503");
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: "the service is briefly unavailable; please try again shortly".into(),
            field: None,
        }
    }
}

/// Marks a response rendered from an [`ApiError`], so that the edge (`crate::edge`) can turn it
/// into a Chinese page when the request was for a page rather than `/api`.
#[derive(Clone, Debug)]
pub(crate) struct Shaped {
    pub code: &'static str,
    pub message: String,
}

impl From<jinguo_mail::NotifyError> for ApiError {
    fn from(e: jinguo_mail::NotifyError) -> Self {
        match e {
            jinguo_mail::NotifyError::Store(e) => e.into(),
            other => ApiError::internal(&other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": { "code": self.code, "message": self.message, "field": self.field }
        });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // Our fault, and passing: the caller may simply try again shortly.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        response.extensions_mut().insert(Shaped {
            code: self.code,
            message: self.message,
        });
        response
    }
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}
