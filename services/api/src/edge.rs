//! The edge every request and answer passes through: the one place that decides how a refusal
//! looks and which headers every answer carries.
//!
//! Before a handler ([`guard`]):
//! - a URL (path and query) longer than [`MAX_URI_BYTES`] is a 414;
//! - a body declared (`Content-Length`) larger than `http.body_limit_bytes` is a 413 before
//!   anything reads it; a body sent without a length (chunked) is read here, up to the limit, so
//!   going over it is a 413 whichever extractor would have read it.
//!
//! After it ([`shape`]):
//! - under `/api` (and `/healthz`, `/readyz`) every refusal is the JSON body
//!   `{"error":{"code","message","field"}}`; elsewhere it is a Chinese page. Refusals rendered
//!   from an [`ApiError`] become a page on page paths; axum's own (an empty 405 with `Allow`,
//!   plain-text rejections) get our body in both places. Headers such as `Allow` and
//!   `Retry-After` are kept. No English reaches a page: an `ApiError` message is shown on a page
//!   only when it has no Latin letters.
//! - every answer carries the security headers of [`secure`].

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY,
    RETRY_AFTER, TRANSFER_ENCODING, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;
use crate::error::Shaped;
use crate::extract::code_for;
use crate::page::message;

/// The longest path and query accepted (8 KiB); longer is a 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The content security policy of every answer: no script at all, styles only from our own
/// stylesheet, forms post only to us, never framed.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Whether a path answers in JSON (the API and the probes) rather than with pages.
pub(crate) fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == "/healthz" || path == "/readyz"
}

/// Request-side checks: URL length and body size (see the module docs). Runs inside
/// `DefaultBodyLimit`, so reading a chunked body here applies that limit.
pub(crate) async fn guard(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(request.uri().path().len(), |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError {
            status: StatusCode::URI_TOO_LONG,
            code: "uri_too_long",
            message: format!("the URL is longer than {MAX_URI_BYTES} bytes"),
            field: None,
        }
        .into_response();
    }
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit);
    }
    if declared.is_none() && request.headers().contains_key(TRANSFER_ENCODING) {
        let (parts, body) = request.into_parts();
        let mut probe = Request::new(body);
        *probe.extensions_mut() = parts.extensions.clone();
        return match Bytes::from_request(probe, &()).await {
            Ok(bytes) => {
                let mut parts = parts;
                parts.headers.remove(TRANSFER_ENCODING);
                parts
                    .headers
                    .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
                next.run(Request::from_parts(parts, Body::from(bytes)))
                    .await
            }
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                too_large(limit)
            }
            Err(rejection) => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "invalid",
                message: rejection.body_text(),
                field: Some("body"),
            }
            .into_response(),
        };
    }
    next.run(request).await
}

fn too_large(limit: usize) -> Response {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "too_large",
        message: format!("request body is larger than {limit} bytes"),
        field: Some("body"),
    }
    .into_response()
}

/// A 429 in the API shape with `Retry-After` (a page on page paths, through [`shape`]).
pub(crate) fn rate_limited(wait: std::time::Duration, message: impl Into<String>) -> Response {
    let mut response = ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "rate_limited",
        message: message.into(),
        field: None,
    }
    .into_response();
    set_retry_after(&mut response, wait);
    response
}

pub(crate) fn set_retry_after(response: &mut Response, wait: std::time::Duration) {
    response.headers_mut().insert(
        RETRY_AFTER,
        HeaderValue::from(crate::limits::retry_after_secs(wait)),
    );
}

/// Answer-side: the shape of every refusal, and the security headers.
pub(crate) async fn shape(request: Request, next: Next) -> Response {
    let api = is_api(request.uri().path());
    let mut response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        response = reshape(response, api).await;
    }
    secure(response.headers_mut());
    response
}

/// Sets the headers every answer carries. `Cache-Control: no-store` on everything (pages show
/// personal data, and nothing here is worth caching) unless a handler chose otherwise (the
/// stylesheet).
pub(crate) fn secure(headers: &mut HeaderMap) {
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

fn content_type(response: &Response) -> &str {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn reshape(response: Response, api: bool) -> Response {
    let status = response.status();
    if let Some(shaped) = response.extensions().get::<Shaped>().cloned() {
        if api {
            return response;
        }
        // A page says how long to wait in words, from the `Retry-After` the refusal carries.
        let wait = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let detail = match wait {
            Some(secs) if status == StatusCode::TOO_MANY_REQUESTS => format!(
                "请求过于频繁，{}",
                crate::limits::try_again_in(std::time::Duration::from_secs(secs))
            ),
            _ => shaped.message,
        };
        return keep_headers(&response, page(status, shaped.code, &detail));
    }
    let ct = content_type(&response);
    if ct.starts_with("text/html") || ct.starts_with("application/json") {
        // A page or a JSON answer we wrote ourselves (e.g. the readiness report).
        return response;
    }
    // Axum's own: an empty 405, a plain-text rejection.
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .unwrap_or_default();
    let error = if status.is_server_error() {
        ApiError::internal(&Unshaped(format!("{status}: {text}")))
    } else {
        let allow = parts
            .headers
            .get(ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let message = match status {
            StatusCode::METHOD_NOT_ALLOWED => format!("method not allowed; allowed: {allow}"),
            StatusCode::NOT_FOUND if text.is_empty() => "no such endpoint".to_owned(),
            _ if text.is_empty() => status
                .canonical_reason()
                .unwrap_or("refused")
                .to_lowercase(),
            _ => text,
        };
        ApiError {
            status,
            code: code_for(status),
            field: message.starts_with("Invalid URL").then_some("path"),
            message,
        }
    };
    let old = Response::from_parts(parts, Body::empty());
    let fresh = if api {
        error.into_response()
    } else {
        page(error.status, error.code, &error.message)
    };
    keep_headers(&old, fresh)
}

/// An answer that a layer below us gave without our shape.
#[derive(Debug)]
struct Unshaped(String);

impl std::fmt::Display for Unshaped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unshaped error answer: {}", self.0)
    }
}

impl std::error::Error for Unshaped {}

/// Copies the headers that matter to the caller (`Allow`, `Retry-After`, cookies, …) from the
/// old answer, leaving the new body's own type and length.
fn keep_headers(old: &Response, mut fresh: Response) -> Response {
    for (name, value) in old.headers() {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH && !fresh.headers().contains_key(name) {
            fresh.headers_mut().append(name, value.clone());
        }
    }
    fresh
}

/// Whether a message can be shown on a page as it is: Chinese, no Latin letters.
fn chinese(text: &str) -> bool {
    !text.is_empty() && !text.chars().any(|c| c.is_ascii_alphabetic())
}

/// The Chinese page for a refusal.
pub(crate) fn page(status: StatusCode, code: &str, detail: &str) -> Response {
    let (title, text, hint): (&str, &str, Option<String>) = match status.as_u16() {
        400 | 422 => (
            "提交的内容有误",
            "请求中有内容格式不正确或缺少必填项。",
            Some("请返回上一页检查后重试。".into()),
        ),
        401 => (
            "需要登录",
            "请先登录巾帼平台。",
            Some("请在登录页面输入工作邮箱，申请登录链接。".into()),
        ),
        403 => (
            "没有权限",
            "您的账号没有进行这项操作的权限。",
            Some("如需开通，请联系所在县区妇联管理员。".into()),
        ),
        404 => (
            "页面不存在",
            "您访问的页面不存在，可能是网址不完整或已失效。",
            Some("请核对网址，或从首页重新进入。".into()),
        ),
        405 => (
            "不支持这种访问方式",
            "这个网址不支持当前的请求方式。",
            Some("请从页面上的链接或按钮进入。".into()),
        ),
        409 => ("无法完成操作", "这项操作与当前状态冲突。", None),
        410 => ("已失效", "您访问的内容已失效。", None),
        413 => (
            "提交的内容过大",
            "提交的内容超过了平台允许的大小。",
            Some("请精简内容后重新提交。".into()),
        ),
        414 => (
            "网址过长",
            "网址长度超出了平台允许的范围。",
            Some("请核对网址，或从首页重新进入。".into()),
        ),
        415 => (
            "提交方式不正确",
            "平台无法识别提交内容的格式。",
            Some("请从页面上的表单提交。".into()),
        ),
        429 => ("请稍后再试", "请求过于频繁，请稍后再试。", None),
        503 => ("服务暂时不可用", "平台暂时无法处理请求，请稍后再试。", None),
        s if s >= 500 => {
            let reference = if code == "internal" {
                detail.rsplit(' ').next().unwrap_or("")
            } else {
                ""
            };
            (
                "服务器出错",
                "平台处理请求时出错，请稍后再试。",
                Some(format!(
                    "如问题持续，请联系管理员并提供参考编号 {reference}。"
                )),
            )
        }
        _ => ("无法处理请求", "平台无法处理这个请求。", None),
    };
    let text = if status.is_client_error() && chinese(detail) {
        detail.to_owned()
    } else {
        text.to_owned()
    };
    message(status, title, text, hint.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_answer_json() {
        assert!(is_api("/api/v1/orgs/62"));
        assert!(is_api("/healthz"));
        assert!(!is_api("/apiary"));
        assert!(!is_api("/signin"));
    }

    #[test]
    fn only_messages_without_latin_letters_reach_a_page() {
        assert!(chinese("请选择审核意见。"));
        assert!(!chinese("org code must be digits only"));
        assert!(!chinese("户主身份证号：must be 18 characters"));
        assert!(!chinese(""));
    }
}
