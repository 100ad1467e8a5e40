//! Who is calling: a bearer token (API) or a session cookie (pages); and the 401/403 answers.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use jinguo_auth::Secret;
use jinguo_core::auth::Target;
use jinguo_store::links;
use uuid::Uuid;

use crate::limits::{Limit, MINUTE};
use crate::{ApiError, AppState};

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "jinguo_session";

/// A caller of the JSON API, identified by a bearer token. Missing or bad token: 401.
pub(crate) struct ApiCaller(pub Uuid);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let raw = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .ok_or_else(|| ApiError::unauthorized("an Authorization: Bearer token is required"))?;
        let secret = Secret::parse(raw)
            .ok_or_else(|| ApiError::unauthorized("the bearer token is not valid"))?;
        let hash = secret.hash();
        let person = state
            .store
            .read(move |c| {
                Box::pin(async move { links::api_token_person(c, &hash, jinguo_bus::now()).await })
            })
            .await?
            .ok_or_else(|| ApiError::unauthorized("the bearer token is not valid"))?;
        Ok(ApiCaller(person))
    }
}

/// The token of an `Authorization` header: the scheme `Bearer` in any case (RFC 9110 makes
/// auth schemes case-insensitive), then the token.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A signed-in browser, if any (pages decide what to do without one).
pub(crate) struct SignedIn {
    pub person: Uuid,
    pub csrf: String,
    pub token_hash: String,
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
}

impl SignedIn {
    pub(crate) async fn from_headers(
        state: &AppState,
        headers: &HeaderMap,
    ) -> Result<Option<SignedIn>, ApiError> {
        let Some(secret) = cookie(headers, SESSION_COOKIE).and_then(|c| Secret::parse(&c)) else {
            return Ok(None);
        };
        let hash = secret.hash();
        let h = hash.clone();
        let session = state
            .store
            .read(move |c| Box::pin(async move { links::session(c, &h, jinguo_bus::now()).await }))
            .await?;
        Ok(session.map(|s| SignedIn {
            person: s.person,
            csrf: s.csrf,
            token_hash: hash,
        }))
    }
}

/// 403 unless `person` may do `action` on `target`.
pub(crate) async fn require(
    state: &AppState,
    person: Uuid,
    action: &'static str,
    org: jinguo_core::org::OrgCode,
) -> Result<(), ApiError> {
    let allowed = state
        .store
        .read(move |c| {
            Box::pin(async move {
                jinguo_auth::may(c, person, action, Target::Org(org), jinguo_bus::now()).await
            })
        })
        .await?;
    if allowed {
        Ok(())
    } else {
        Err(ApiError::forbidden(action))
    }
}

/// The client's address (the TCP peer), in canonical form: an IPv4 client of a dual-stack
/// listener is its IPv4 address, not `::ffff:a.b.c.d`. `None` when the server was not started
/// with connection info (then nothing is trusted as local).
pub(crate) struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    fn of(parts: &Parts) -> ClientAddr {
        ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_canonical()),
        )
    }

    /// Whether the peer is this machine.
    pub(crate) fn is_loopback(&self) -> bool {
        self.0.is_some_and(|ip| ip.is_loopback())
    }

    /// The address as a rate-limit key.
    pub(crate) fn key(&self) -> String {
        self.0
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr::of(parts))
    }
}

/// Per-address rate limit for sign-in, action links and public endpoints: 429 with
/// `Retry-After` past the limit.
pub(crate) async fn limit_per_ip(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let key = format!("ip:{}", ClientAddr::of(&parts).key());
    let limit = state.config.auth.rate_limit_per_ip_per_minute;
    if let Err(wait) = state.limiter.hit(&[Limit::new(key, limit, MINUTE)]) {
        return crate::edge::rate_limited(
            wait,
            "too many requests from this address; try again later",
        );
    }
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for header in ["Bearer abc", "bearer abc", "BEARER  abc ", " bEaReR abc"] {
            assert_eq!(super::bearer(header), Some("abc"), "{header}");
        }
        assert_eq!(super::bearer("Basic abc"), None);
        assert_eq!(super::bearer("Bearerabc"), None);
    }
}
