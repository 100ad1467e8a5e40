//! What the nomination tests share: the demo county's units, the links mailed to a person, the
//! CSRF value of a rendered form.

use jinguo_core::org::OrgCode;
use jinguo_store::{Store, mail, orgs};
use uuid::Uuid;

use crate::TestApp;

/// 皋兰县, its first township and that township's first village.
pub async fn units(store: &Store) -> (OrgCode, OrgCode, OrgCode) {
    let (county, town, villages) = villages(store).await;
    (county, town, villages[0])
}

/// 皋兰县, its first township and that township's villages.
pub async fn villages(store: &Store) -> (OrgCode, OrgCode, Vec<OrgCode>) {
    let county = OrgCode::parse("620122").unwrap();
    let town = store
        .read(move |c| Box::pin(orgs::children(c, county)))
        .await
        .unwrap()[0]
        .code;
    let villages = store
        .read(move |c| Box::pin(orgs::children(c, town)))
        .await
        .unwrap();
    (county, town, villages.into_iter().map(|v| v.code).collect())
}

/// A campaign over 皋兰县 named `name` (categories 最美家庭 and 五好家庭, no quotas, 3 days of
/// 公示), created over the API with `token`; its id.
pub async fn campaign(app: &TestApp, token: &str, name: &str) -> String {
    let rules = serde_json::json!({ "categories": ["最美家庭", "五好家庭"],
        "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "3d" });
    campaign_with_rules(app, token, name, rules).await
}

/// A campaign over 皋兰县 for 2026 named `name` with `rules`, created over the API with
/// `token`; its id.
pub async fn campaign_with_rules(
    app: &TestApp,
    token: &str,
    name: &str,
    rules: serde_json::Value,
) -> String {
    let created = app
        .client
        .post(format!("{}/api/v1/campaigns", app.base_url))
        .bearer_auth(token)
        .json(&serde_json::json!({ "name": name, "year": 2026, "scope_org": "620122", "rules": rules }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The mails recorded for `person` whose subject starts with `subject`, newest first: the
/// subject and text of each.
pub async fn mails_to(store: &Store, person: Uuid, subject: &str) -> Vec<(String, String)> {
    let mails = store
        .read(|c| Box::pin(mail::recent(c, 500)))
        .await
        .unwrap();
    mails
        .into_iter()
        .filter(|m| m.person_id == Some(person) && m.subject.starts_with(subject))
        .map(|m| (m.subject, m.text_body))
        .collect()
}

/// The `/link/…` paths in the mails to `person` whose subject starts with `subject`, newest
/// first.
pub async fn links_mailed_to(store: &Store, person: Uuid, subject: &str) -> Vec<String> {
    mails_to(store, person, subject)
        .await
        .into_iter()
        .filter_map(|(_, text)| {
            let at = text.find("/link/")?;
            let rest = &text[at..];
            Some(rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())].to_owned())
        })
        .collect()
}

/// The CSRF value of the first form in a page.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with csrf")
        + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// The nominations worker on the in-process bus over `app`'s database, started (with the
/// relay and scheduler); links in its mails point at `app`. Stop it with `stop().await`.
pub fn nominations_bus(app: &TestApp) -> crate::TestBus {
    let config = crate::test_config(
        &app.db,
        &[("JINGUO_HTTP__PUBLIC_URL", app.base_url.as_str())],
    );
    let mut bus = crate::TestBus::build(
        &app.db,
        None,
        vec![jinguo_nominations::worker(&config).expect("nominations worker")],
        app.store.clone(),
        &[],
    );
    bus.start_services();
    bus
}
