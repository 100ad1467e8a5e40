//! Accounts, roles, action links, sign-in, tokens, break glass — against the real service.

use std::time::Duration;

use jinguo_auth::Secret;
use jinguo_core::auth::{Role, Scope, Target};
use jinguo_core::org::OrgCode;
use jinguo_store::{Store, links, staff};
use jinguo_tests::{Backend, Contents, TestApp};
use uuid::Uuid;

fn code(s: &str) -> OrgCode {
    OrgCode::parse(s).unwrap()
}

async fn add_staff(store: &Store, email: &str, role: &str, org: &str) -> Uuid {
    jinguo_tests::add_staff(store, email, &format!("测试{role}"), role, org).await
}

async fn token_for(store: &Store, person: Uuid) -> String {
    jinguo_tests::api_token(store, person).await
}

async fn may(store: &Store, person: Uuid, action: String, target: OrgCode) -> bool {
    store
        .read(move |c| {
            Box::pin(async move {
                jinguo_auth::may(c, person, &action, Target::Org(target), jinguo_bus::now()).await
            })
        })
        .await
        .unwrap()
}

/// Every role's allowed and forbidden actions, inside its subtree and outside it, read from the
/// permission table itself: a row added there is tested without touching this test.
async fn permission_table_drives_every_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let table = app
        .store
        .read(|c| Box::pin(staff::permissions(c)))
        .await
        .unwrap();
    let actions: std::collections::BTreeSet<String> =
        table.iter().map(|p| p.action.clone()).collect();
    let (county, village, elsewhere) = (code("620122"), code("620122100201"), code("620123"));
    for role in Role::ALL {
        let person = add_staff(
            &app.store,
            &format!("{}@example.cn", role.as_str()),
            role.as_str(),
            "620122",
        )
        .await;
        for action in &actions {
            let granted = table
                .iter()
                .find(|p| p.role == *role && &p.action == action);
            let (at_unit, below, outside) = (
                may(&app.store, person, action.clone(), county).await,
                may(&app.store, person, action.clone(), village).await,
                may(&app.store, person, action.clone(), elsewhere).await,
            );
            let expected = match granted.map(|p| p.scope) {
                None => (false, false, false),
                Some(Scope::Subtree) => (true, true, false),
                Some(Scope::Unit) => (true, false, false),
                // Case-scoped actions need a case the person is assigned to: never on an org.
                Some(Scope::Assigned) => (false, false, false),
            };
            assert_eq!((at_unit, below, outside), expected, "{role} {action}");
        }
    }
    // Admins never read victims' details by default.
    assert!(
        !table
            .iter()
            .any(|p| p.role == Role::Admin && p.action == "referral.read")
    );
}

async fn api_answers_401_without_a_valid_token_and_403_without_the_permission(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = format!("{}/api/v1/staff?org=620122", app.base_url);
    let none = app.client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let body: serde_json::Value = none.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let bad = app
        .client
        .get(&url)
        .bearer_auth(Secret::generate().expose())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let garbage = app.client.get(&url).bearer_auth("x").send().await.unwrap();
    assert_eq!(garbage.status(), 401);

    let reviewer = add_staff(&app.store, "reviewer@example.cn", "reviewer", "620122").await;
    let token = token_for(&app.store, reviewer).await;
    let forbidden = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    let body: serde_json::Value = forbidden.json().await.unwrap();
    assert_eq!(body["error"]["message"], "not permitted: staff.view");

    let admin = add_staff(&app.store, "admin@example.cn", "admin", "620122").await;
    let token = token_for(&app.store, admin).await;
    let ok = app
        .client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(body["staff"].as_array().unwrap().len(), 2);
    // Outside the admin's subtree: 403.
    let outside = app
        .client
        .get(format!("{}/api/v1/staff?org=620123", app.base_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 403);
    // Bad input names the field.
    let created = app
        .client
        .post(format!("{}/api/v1/staff", app.base_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "email": "nope", "name": "甲", "role": "reviewer", "org": "620122" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 400);
    let body: serde_json::Value = created.json().await.unwrap();
    assert_eq!(body["error"]["field"], "email");
    // A disabled admin's token stops working at all: the person is checked at every use.
    app.store
        .transaction(move |c| Box::pin(async move { staff::set_active(c, admin, false).await }))
        .await
        .unwrap();
    assert_eq!(
        app.client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

jinguo_tests::on_both_backends!(
    action_link_get_changes_nothing_and_acts_once_on_post,
    unknown_expired_foreign_and_superseded_links_each_get_their_page,
    sign_in_answers_the_same_for_unknown_emails_and_mails_known_ones,
    county_admin_page_lists_adds_disables_and_reassigns_within_its_subtree,
    permission_table_drives_every_role,
    api_answers_401_without_a_valid_token_and_403_without_the_permission,
);

/// A client that keeps no cookies unless asked: each request as a fresh browser.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn issue_link(
    store: &Store,
    purpose: &'static str,
    subject: &'static str,
    actor: Uuid,
    valid: chrono::Duration,
) -> Secret {
    store
        .transaction(move |c| {
            Box::pin(async move {
                jinguo_auth::links::issue(c, purpose, subject, actor, valid, jinguo_bus::now())
                    .await
            })
        })
        .await
        .unwrap()
}

async fn get_page(client: &reqwest::Client, url: &str, cookie: Option<&str>) -> (u16, String) {
    let mut req = client.get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with csrf")
        + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}

async fn action_link_get_changes_nothing_and_acts_once_on_post(backend: Backend) {
    let app = TestApp::spawn_with(backend, Contents::Gansu, &[]).await;
    let person = add_staff(&app.store, "wangfang@example.cn", "reviewer", "620122").await;
    let secret = issue_link(
        &app.store,
        jinguo_api::SIGN_IN,
        "sign-in",
        person,
        chrono::Duration::minutes(15),
    )
    .await;
    let url = format!("{}/link/{}", app.base_url, secret.expose());
    let client = browser();
    let mut html = String::new();
    for _ in 0..3 {
        let (status, page) = get_page(&client, &url, None).await;
        assert_eq!(status, 200);
        assert!(page.contains("确认登录"));
        html = page;
    }
    let hash = secret.hash();
    let link = app
        .store
        .read(move |c| Box::pin(async move { links::get_link(c, &hash).await }))
        .await
        .unwrap()
        .unwrap();
    assert!(link.used_at.is_none(), "GET changed nothing");

    // A POST without the page's form field is refused.
    let forged = client
        .post(&url)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let csrf = csrf_of(&html);
    let first = client
        .post(&url)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 303);
    let cookie = first.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure")
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let (status, me) = get_page(&client, &format!("{}/me", app.base_url), Some(&session)).await;
    assert_eq!(status, 200);
    assert!(
        me.contains("审核员 · 皋兰县"),
        "units by name, never by code: {me}"
    );

    let second = client
        .post(&url)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 409);
    assert!(second.text().await.unwrap().contains("链接已使用"));

    // Sign out with the session's CSRF value; the session is gone afterwards.
    let csrf = csrf_of(&me);
    let out = client
        .post(format!("{}/signout", app.base_url))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    let (status, _) = get_page(&client, &format!("{}/me", app.base_url), Some(&session)).await;
    assert_eq!(status, 303, "signed out: back to the sign-in page");
}

async fn unknown_expired_foreign_and_superseded_links_each_get_their_page(backend: Backend) {
    let app = TestApp::spawn_with(backend, Contents::Gansu, &[]).await;
    let a = add_staff(&app.store, "a@example.cn", "reviewer", "620122").await;
    let b = add_staff(&app.store, "b@example.cn", "reviewer", "620122").await;
    let client = browser();
    let base = &app.base_url;

    let (status, page) = get_page(
        &client,
        &format!("{base}/link/{}", Secret::generate().expose()),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert!(page.contains("链接无效"));
    let (status, _) = get_page(&client, &format!("{base}/link/not-a-token"), None).await;
    assert_eq!(status, 404);

    let expired = issue_link(
        &app.store,
        jinguo_api::SIGN_IN,
        "x",
        a,
        chrono::Duration::milliseconds(1),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (status, page) =
        get_page(&client, &format!("{base}/link/{}", expired.expose()), None).await;
    assert_eq!(status, 410);
    assert!(page.contains("链接已过期"));

    // Signed in as B, following A's link: it is someone else's.
    let b_link = issue_link(
        &app.store,
        jinguo_api::SIGN_IN,
        "b",
        b,
        chrono::Duration::minutes(5),
    )
    .await;
    let url = format!("{base}/link/{}", b_link.expose());
    let (_, html) = get_page(&client, &url, None).await;
    let signed_in = client
        .post(&url)
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .await
        .unwrap();
    let session = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let a_link = issue_link(
        &app.store,
        jinguo_api::SIGN_IN,
        "a",
        a,
        chrono::Duration::minutes(5),
    )
    .await;
    let (status, page) = get_page(
        &client,
        &format!("{base}/link/{}", a_link.expose()),
        Some(&session),
    )
    .await;
    assert_eq!(status, 403);
    assert!(page.contains("属于另一位用户"));

    // Two reviewers hold links for one task; one decides, the other's link is superseded.
    let mine = issue_link(&app.store, "review", "task-1", a, chrono::Duration::days(3)).await;
    app.store
        .transaction(|c| {
            Box::pin(async move {
                jinguo_auth::links::supersede(c, "review", "task-1", "王芳", jinguo_bus::now())
                    .await
            })
        })
        .await
        .unwrap();
    let (status, page) = get_page(&client, &format!("{base}/link/{}", mine.expose()), None).await;
    assert_eq!(status, 409);
    assert!(page.contains("已由王芳于"), "{page}");

    // Refused uses are audited, and the chain holds.
    let verified = app
        .store
        .read(|c| Box::pin(jinguo_store::audit::verify(c)))
        .await
        .unwrap();
    assert!(verified.is_ok());
}

async fn sign_in_answers_the_same_for_unknown_emails_and_mails_known_ones(backend: Backend) {
    let mail = tempfile::tempdir().unwrap();
    let dir = mail.path().to_str().unwrap().to_owned();
    let env = [
        ("JINGUO_MAIL__DIR", dir.as_str()),
        ("JINGUO_AUTH__SIGN_IN_PER_EMAIL_PER_HOUR", "2"),
    ];
    let app = TestApp::spawn_with(backend, Contents::Gansu, &env).await;
    add_staff(&app.store, "known@example.cn", "reviewer", "620122").await;
    let client = browser();
    let post = |email: &'static str| {
        client
            .post(format!("{}/signin", app.base_url))
            .form(&[("email", email)])
            .send()
    };
    let known = post("Known@Example.cn").await.unwrap();
    let unknown = post("stranger@example.cn").await.unwrap();
    assert_eq!(known.status(), 200);
    assert_eq!(unknown.status(), 200);
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    // The mail is written after the answer (so both answers take the same time).
    let mails = jinguo_tests::eventually(
        "the sign-in mail",
        std::time::Duration::from_secs(10),
        || async {
            let mails = app
                .store
                .read(|c| Box::pin(jinguo_store::mail::recent(c, 10)))
                .await
                .unwrap();
            (!mails.is_empty()).then_some(mails)
        },
    )
    .await;
    assert_eq!(mails.len(), 1, "only the known address gets a mail");
    assert_eq!(mails[0].subject, "【巾帼】登录链接");
    assert!(mails[0].text_body.contains("/link/"));
    // Per-address limit: the third request within the hour is refused.
    assert_eq!(post("known@example.cn").await.unwrap().status(), 200);
    assert_eq!(post("known@example.cn").await.unwrap().status(), 429);
    assert_eq!(post("not-an-email").await.unwrap().status(), 400);
}

async fn session_for(store: &Store, person: Uuid) -> String {
    jinguo_tests::session(store, person).await.0
}

async fn county_admin_page_lists_adds_disables_and_reassigns_within_its_subtree(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = add_staff(&app.store, "admin@example.cn", "admin", "620122").await;
    let reviewer = add_staff(&app.store, "reviewer@example.cn", "reviewer", "620122100").await;
    let outsider = add_staff(&app.store, "other@example.cn", "reviewer", "620123").await;
    let client = browser();
    let cookie = session_for(&app.store, admin).await;
    let page_url = format!("{}/admin/staff?org=620122", app.base_url);
    let (status, html) = get_page(&client, &page_url, Some(&cookie)).await;
    assert_eq!(status, 200);
    assert!(html.contains("人员管理 · 皋兰县") && html.contains("reviewer@example.cn"));
    assert!(
        !html.contains("other@example.cn"),
        "staff outside the subtree are not listed"
    );
    let csrf = csrf_of(&html);

    let add = client
        .post(format!("{}/admin/staff", app.base_url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("org", "620122"),
            ("name", "新人"),
            ("email", "new@example.cn"),
            ("role", "viewer"),
            ("unit", "620122"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(add.status(), 303);
    let outside = client
        .post(format!("{}/admin/staff", app.base_url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("org", "620122"),
            ("name", "越界"),
            ("email", "x@example.cn"),
            ("role", "viewer"),
            ("unit", "620123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 400);

    let act = |id: Uuid, what: &'static str, extra: Vec<(&'static str, &'static str)>| {
        let mut form = vec![("csrf", csrf.clone()), ("org", "620122".to_owned())];
        form.extend(extra.into_iter().map(|(k, v)| (k, v.to_owned())));
        client
            .post(format!("{}/admin/staff/{id}/{what}", app.base_url))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    assert_eq!(
        act(
            reviewer,
            "reassign",
            vec![("role", "coordinator"), ("unit", "620122")]
        )
        .await
        .unwrap()
        .status(),
        303
    );
    let asked = act(reviewer, "disable", vec![]).await.unwrap();
    assert_eq!(asked.status(), 200, "a confirmation step first");
    assert!(asked.text().await.unwrap().contains("确认停用"));
    assert_eq!(
        act(reviewer, "disable", vec![("confirm", "yes")])
            .await
            .unwrap()
            .status(),
        303
    );
    assert_eq!(
        act(outsider, "disable", vec![("confirm", "yes")])
            .await
            .unwrap()
            .status(),
        403,
        "not in the admin's subtree"
    );
    let principal = app
        .store
        .read(move |c| {
            Box::pin(async move { staff::principal(c, reviewer, jinguo_bus::now()).await })
        })
        .await
        .unwrap()
        .unwrap();
    assert!(!principal.active);
    assert_eq!(principal.assignments[0].role, Role::Coordinator);

    // A reviewer may not manage staff; without a session the page sends you to sign in.
    let reviewer_cookie = session_for(&app.store, outsider).await;
    assert_eq!(
        get_page(&client, &page_url, Some(&reviewer_cookie)).await.0,
        403
    );
    assert_eq!(get_page(&client, &page_url, None).await.0, 303);
    // A forged form (wrong CSRF value) changes nothing.
    let forged = client
        .post(format!("{}/admin/staff", app.base_url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", "forged"),
            ("org", "620122"),
            ("name", "伪造"),
            ("email", "f@example.cn"),
            ("role", "viewer"),
            ("unit", "620122"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn case_officers_on_the_duty_roster_are_on_duty_during_their_shift() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let officer = add_staff(&app.store, "officer@example.cn", "case_officer", "620122").await;
    add_staff(&app.store, "reviewer@example.cn", "reviewer", "620122").await;
    let county = code("620122");
    let now = jinguo_bus::now();
    let shift = |email: &'static str, county: OrgCode, from: i64, to: i64| {
        let store = app.store.clone();
        async move {
            store
                .transaction(move |c| {
                    Box::pin(async move {
                        let (s, e) = (
                            now + chrono::Duration::hours(from),
                            now + chrono::Duration::hours(to),
                        );
                        jinguo_auth::staff::add_shift(c, email, county, s, e, "test", now).await
                    })
                })
                .await
        }
    };
    shift("officer@example.cn", county, -1, 8).await.unwrap();
    let refused = shift("reviewer@example.cn", county, -1, 8)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("not a case officer"),
        "{refused}"
    );
    assert!(
        shift("officer@example.cn", code("620123"), -1, 8)
            .await
            .is_err(),
        "outside the officer's county"
    );
    assert!(
        shift("officer@example.cn", code("620122100"), -1, 8)
            .await
            .is_err(),
        "a township is not a county"
    );
    let at = |h: i64| {
        let store = app.store.clone();
        async move {
            store
                .read(move |c| {
                    Box::pin(async move {
                        staff::on_duty(c, county, now + chrono::Duration::hours(h)).await
                    })
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(at(0).await, [officer]);
    assert!(at(9).await.is_empty(), "after the shift");
    app.store
        .transaction(move |c| Box::pin(async move { staff::set_active(c, officer, false).await }))
        .await
        .unwrap();
    assert!(at(0).await.is_empty(), "disabled officers are not on duty");
}
