//! Staff, tokens and sessions for tests, made the way the product makes them.

use jinguo_auth::Secret;
use jinguo_auth::staff::{Grantor, NewStaff, parse_assignment};
use jinguo_store::{Store, links};
use uuid::Uuid;

/// Adds a staff member with `role` at `org` (liaisons get the police as their agency).
pub async fn add_staff(store: &Store, email: &str, name: &str, role: &str, org: &str) -> Uuid {
    let s = NewStaff {
        email: email.into(),
        name: name.into(),
        phone: None,
        assignment: parse_assignment(role, org, (role == "agency_liaison").then_some("police"))
            .unwrap(),
    };
    store
        .transaction(move |c| {
            Box::pin(async move {
                jinguo_auth::staff::add(c, &s, Grantor::Operator, jinguo_bus::now()).await
            })
        })
        .await
        .unwrap()
        .0
}

/// A bearer token for `person`, as `jinguo token create` makes one.
pub async fn api_token(store: &Store, person: Uuid) -> String {
    let secret = Secret::generate();
    let hash = secret.hash();
    store
        .transaction(move |c| {
            Box::pin(async move {
                links::insert_api_token(c, &hash, person, jinguo_bus::now(), None).await
            })
        })
        .await
        .unwrap();
    secret.expose().to_owned()
}

/// Signs `person` in (as a sign-in link's POST would): the Cookie header value and the
/// session's CSRF value for forms.
pub async fn session(store: &Store, person: Uuid) -> (String, String) {
    let cookie = Secret::generate();
    let hash = cookie.hash();
    let csrf = Secret::generate().hash();
    let c2 = csrf.clone();
    store
        .transaction(move |c| {
            Box::pin(async move {
                let now = jinguo_bus::now();
                links::insert_session(c, &hash, person, &c2, now, now + chrono::Duration::hours(1))
                    .await
            })
        })
        .await
        .unwrap();
    (format!("jinguo_session={}", cookie.expose()), csrf)
}
