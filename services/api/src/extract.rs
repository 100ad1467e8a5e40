//! Axum's `Path`, `Form` and `Json`, with their rejections turned into [`ApiError`]s: the one
//! error shape under `/api`, and (through the edge, `crate::edge`) a Chinese page elsewhere.
//!
//! Each keeps the status axum chose (400 for a bad value, 413 for a body over the limit, 415
//! for a wrong content type), except that a JSON body of the wrong shape is a 400 like every
//! other invalid input. The `field` names the path parameter or the missing field when the
//! rejection says which.

use std::collections::BTreeSet;
use std::sync::Mutex;

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// A path parameter (or a tuple or struct of them) that must parse: otherwise 400 naming it.
pub(crate) struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(rejection) => {
                let field = match &rejection {
                    PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
                        ErrorKind::ParseErrorAtKey { key, .. }
                        | ErrorKind::DeserializeError { key, .. }
                        | ErrorKind::InvalidUtf8InPathParam { key } => Some(key.clone()),
                        _ => None,
                    },
                    _ => None,
                };
                // A single parameter is named by the route, not the error.
                let field = match field {
                    Some(f) => f,
                    None => match RawPathParams::from_request_parts(parts, state).await {
                        Ok(params) if params.iter().count() == 1 => params
                            .iter()
                            .next()
                            .map(|(k, _)| k.to_owned())
                            .unwrap_or_default(),
                        _ => "path".to_owned(),
                    },
                };
                Err(refused(
                    rejection.status(),
                    rejection.body_text(),
                    Some(&field),
                    &rejection,
                ))
            }
        }
    }
}

/// A form body (`application/x-www-form-urlencoded`), or the query string on GET.
pub(crate) struct Form<T>(pub T);

impl<T, S> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(Form(v)),
            Err(rejection) => {
                let text = rejection.body_text();
                let field = missing_field(&text).map(str::to_owned);
                Err(refused(
                    rejection.status(),
                    text,
                    field.as_deref(),
                    &rejection,
                ))
            }
        }
    }
}

/// A JSON body (`Content-Type: application/json`).
pub(crate) struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => {
                let text = rejection.body_text();
                let field = missing_field(&text).unwrap_or("body").to_owned();
                Err(refused(rejection.status(), text, Some(&field), &rejection))
            }
        }
    }
}

/// The error code the API uses for a status.
pub(crate) fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 422 => "invalid",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "refused",
    }
}

/// A rejection as an `ApiError`. A 5xx rejection is a programming error: logged, with a reference.
fn refused(
    status: StatusCode,
    text: String,
    field: Option<&str>,
    cause: &(dyn std::error::Error + 'static),
) -> ApiError {
    if status.is_server_error() {
        return ApiError::internal(cause);
    }
    // An invalid value is a 400 whatever layer found it.
    let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    ApiError {
        status,
        code: code_for(status),
        message: text,
        field: match status {
            StatusCode::BAD_REQUEST => field.map(field_name).or(Some("body")),
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => Some("body"),
            _ => None,
        },
    }
}

/// The field serde names in "missing field `x`".
fn missing_field(text: &str) -> Option<&str> {
    let at = text.find("missing field `")? + "missing field `".len();
    text[at..].split('`').next()
}

/// A field name as `&'static str` (what `ApiError` carries). Names come from our own types and
/// routes (serde's "missing field" and path parameters), so the set is small; it is capped
/// anyway, and anything odd is reported as the body.
fn field_name(name: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let plausible = !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !plausible {
        return "body";
    }
    let mut names = NAMES.lock().expect("field names lock");
    if let Some(known) = names.get(name) {
        return known;
    }
    if names.len() >= 256 {
        return "body";
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_field_is_named() {
        assert_eq!(
            missing_field("Failed to deserialize form body: missing field `email`"),
            Some("email")
        );
        assert_eq!(missing_field("Failed to deserialize form body"), None);
    }

    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::response::IntoResponse;
    use axum::routing::post;
    use tower::ServiceExt;

    #[derive(serde::Deserialize)]
    struct Person {
        #[allow(dead_code)]
        email: String,
    }

    async fn answer(request: Request<Body>) -> (u16, serde_json::Value) {
        let app = Router::new()
            .route(
                "/json/{id}",
                post(|Path(_): Path<uuid::Uuid>, Json(_): Json<Person>| async { "ok" }),
            )
            .route("/form", post(|Form(_): Form<Person>| async { "ok" }));
        let response = app.oneshot(request).await.unwrap().into_response();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    fn post_to(uri: &str, content_type: &str, body: &str) -> Request<Body> {
        Request::post(uri)
            .header("content-type", content_type)
            .body(Body::from(body.to_owned()))
            .unwrap()
    }

    #[tokio::test]
    async fn rejections_keep_their_status_and_name_the_field() {
        let id = "00000000-0000-0000-0000-000000000001";
        let cases = [
            (
                post_to("/json/nope", "application/json", "{}"),
                400,
                "invalid",
                "id",
            ),
            (
                post_to(&format!("/json/{id}"), "text/plain", "{}"),
                415,
                "unsupported_media_type",
                "body",
            ),
            (
                post_to(&format!("/json/{id}"), "application/json", "{}"),
                400,
                "invalid",
                "email",
            ),
            (
                post_to(&format!("/json/{id}"), "application/json", "{"),
                400,
                "invalid",
                "body",
            ),
            (
                post_to("/form", "application/json", "email=a"),
                415,
                "unsupported_media_type",
                "body",
            ),
            (
                post_to("/form", "application/x-www-form-urlencoded", "mail=a"),
                400,
                "invalid",
                "email",
            ),
        ];
        for (request, status, code, field) in cases {
            let what = format!("{} {:?}", request.uri(), request.headers());
            let (got, body) = answer(request).await;
            assert_eq!(got, status, "{what}: {body}");
            assert_eq!(body["error"]["code"], code, "{what}: {body}");
            assert_eq!(body["error"]["field"], field, "{what}: {body}");
        }
        let ok = post_to(
            &format!("/json/{id}"),
            "application/json",
            r#"{"email":"a"}"#,
        );
        assert_eq!(answer(ok).await.0, 200);
    }

    #[test]
    fn field_names_are_interned_and_odd_ones_are_the_body() {
        let a = field_name("task_id");
        let b = field_name(&String::from("task_id"));
        assert!(std::ptr::eq(a, b));
        assert_eq!(field_name("<script>"), "body");
        assert_eq!(field_name(""), "body");
    }
}
