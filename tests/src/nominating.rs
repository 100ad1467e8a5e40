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

/// One county's review chain over a campaign of `rules`, with the nominations worker running on
/// a transport (PostgreSQL + RabbitMQ, or SQLite + the in-process bus): a county admin (the
/// nominator) and a reviewer at each level of 皋兰县's first village. Stop it with
/// `bus.stop().await`.
pub struct ReviewWorld {
    pub app: TestApp,
    pub bus: crate::TestBus,
    pub admin: Uuid,
    pub admin_token: String,
    /// Village, township and county reviewers.
    pub reviewers: [Uuid; 3],
    pub village: OrgCode,
    pub campaign: String,
}

impl ReviewWorld {
    pub async fn start(transport: crate::Transport, rules: serde_json::Value) -> ReviewWorld {
        let backend = match transport {
            crate::Transport::RabbitMq => crate::Backend::Postgres,
            crate::Transport::InProcess => crate::Backend::Sqlite,
        };
        let app = TestApp::spawn(backend).await;
        let (county, town, village) = units(&app.store).await;
        let staff = |email: &'static str, name: &'static str, role: &'static str, org: OrgCode| {
            let store = app.store.clone();
            async move { crate::add_staff(&store, email, name, role, org.as_str()).await }
        };
        let admin = staff("admin@example.cn", "县妇联管理员", "admin", county).await;
        let v = staff("v@example.cn", "村审核员", "reviewer", village).await;
        let t = staff("t@example.cn", "乡镇审核员", "reviewer", town).await;
        let c = staff("c@example.cn", "县审核员", "reviewer", county).await;
        let admin_token = crate::api_token(&app.store, admin).await;
        let campaign = campaign_with_rules(&app, &admin_token, "2026年最美家庭", rules).await;
        let url = crate::amqp_url();
        let amqp = (transport == crate::Transport::RabbitMq).then_some(url.as_str());
        let env = [("JINGUO_HTTP__PUBLIC_URL", app.base_url.as_str())];
        let config = crate::test_config(&app.db, &env);
        let worker = jinguo_nominations::worker(&config).expect("nominations worker");
        let mut bus = crate::TestBus::build(&app.db, amqp, vec![worker], app.store.clone(), &env);
        bus.start_services();
        ReviewWorld {
            app,
            bus,
            admin,
            admin_token,
            reviewers: [v, t, c],
            village,
            campaign,
        }
    }

    /// Submits a family of the village as the county admin (organisation); its story holds the
    /// address and the phone, which no public page may show.
    pub async fn submit(&self, head: &str, head_id: &str, address: &str, phone: &str) -> Uuid {
        let body = serde_json::json!({
            "campaign_id": self.campaign, "village": self.village.as_str(), "category": "最美家庭",
            "channel": "organization",
            "family": { "head_name": head, "head_id": head_id, "address": address, "phone": phone,
                        "members": [{ "name": "王强", "relation": "丈夫" }] },
            "story": format!("{head}一家住在{address}，联系电话{phone}。二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，带动乡邻共同建设美丽庭院，是远近闻名的好家庭。")
        });
        let r = self
            .app
            .client
            .post(format!("{}/api/v1/nominations", self.app.base_url))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, r) = (r.status(), r.json::<serde_json::Value>().await.unwrap());
        assert_eq!(status, 201, "{r}");
        r["id"].as_str().unwrap().parse().unwrap()
    }

    /// The open tasks of nomination `n` at `level`.
    pub async fn open_tasks(
        &self,
        n: Uuid,
        level: &'static str,
    ) -> Vec<jinguo_store::nominations::Task> {
        let tasks = self
            .app
            .store
            .read(move |c| {
                Box::pin(async move { jinguo_store::nominations::tasks(c, n, level).await })
            })
            .await
            .unwrap();
        tasks.into_iter().filter(|t| !t.closed).collect()
    }

    /// `reviewer`'s open task at `level` approved over the API; the state after it.
    pub async fn approve(&self, n: Uuid, level: &'static str, reviewer: Uuid) -> String {
        let tasks = self.open_tasks(n, level).await;
        let task = tasks.iter().find(|t| t.reviewer == reviewer).unwrap().id;
        let token = crate::api_token(&self.app.store, reviewer).await;
        let r: serde_json::Value = self
            .app
            .client
            .post(format!(
                "{}/api/v1/reviews/{task}/decision",
                self.app.base_url
            ))
            .bearer_auth(token)
            .json(&serde_json::json!({ "decision": "approve" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["state"].as_str().unwrap().to_owned()
    }

    /// Nomination `n` as the county admin reads it over the API.
    pub async fn shown(&self, n: Uuid) -> serde_json::Value {
        self.app
            .get_json_as(&format!("/api/v1/nominations/{n}"), &self.admin_token)
            .await
            .1
    }

    pub async fn state_of(&self, n: Uuid) -> String {
        self.shown(n).await["state"].as_str().unwrap().to_owned()
    }

    /// The events of `n`'s history, in order.
    pub async fn events(&self, n: Uuid) -> Vec<String> {
        self.shown(n).await["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["event"].as_str().unwrap().to_owned())
            .collect()
    }

    /// A page as anyone opens it (no session): its status and HTML.
    pub async fn page(&self, path: &str) -> (u16, String) {
        let r = self
            .app
            .client
            .get(format!("{}{path}", self.app.base_url))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Posts `decision` (with an empty reason) on the form of an emailed link's `page`: the
    /// answer's status and HTML.
    pub async fn decide_by_link(&self, link: &str, page: &str, decision: &str) -> (u16, String) {
        let r = self
            .app
            .client
            .post(format!("{}{link}", self.app.base_url))
            .form(&[
                ("csrf", csrf_of(page).as_str()),
                ("decision", decision),
                ("reason", ""),
            ])
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn state_becomes(&self, n: Uuid, want: &'static str) {
        crate::eventually(want, std::time::Duration::from_secs(30), || async {
            (self.state_of(n).await == want).then_some(())
        })
        .await;
    }
}
