//! 反家暴联动 over HTTP (issue 16, "Interfaces"): a case taken in over the API gets its number;
//! its officer reads it and the read is audited; anyone else is refused without learning a
//! thing, and the refusal is audited; bad input is refused by field; the acknowledgement link
//! shows only the case number and what is asked until someone presses 签收; break glass opens
//! a case inside the requester's area only; the public page (咨询服务) has its quick exit,
//! keeps no copy, and confirms with the case number and the hotline, never what was typed; the
//! officer's pages read like the API.

use jinguo_core::org::OrgCode;
use jinguo_store::Store;
use jinguo_store::audit::Entry;
use jinguo_tests::nominating::{csrf_of, links_mailed_to, mails_to};
use jinguo_tests::{Backend, TestApp, add_staff, api_token, session};
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, COOKIE, LOCATION};
use serde_json::{Value, json};
use uuid::Uuid;

/// What must never reach anyone who may not read the case.
const VICTIM_NAME: &str = "马春花";
const VICTIM_PHONE: &str = "13912345678";
const VILLAGE: &str = "620122100201";

// ---------------------------------------------------------------------------------------------
// Helpers

/// The people of every story here: an intake clerk, the officer on duty (who gets the case),
/// an officer of the same county with nothing to do with it, an officer of the next county,
/// and the county's supervisor.
struct Cast {
    clerk: Uuid,
    officer: Uuid,
    bystander: Uuid,
    neighbour: Uuid,
    supervisor: Uuid,
}

async fn cast(store: &Store) -> Cast {
    let clerk = add_staff(store, "clerk@t.cn", "钱登记", "case_officer", "620122").await;
    let officer = add_staff(store, "officer@t.cn", "李承办", "case_officer", "620122").await;
    let bystander = add_staff(store, "other@t.cn", "赵旁人", "case_officer", "620122").await;
    let neighbour = add_staff(store, "next@t.cn", "孙邻县", "case_officer", "620123").await;
    let supervisor = add_staff(store, "sup@t.cn", "周督导", "supervisor", "620122").await;
    // The officer is on duty: new cases are hers.
    store
        .transaction(move |c| {
            Box::pin(async move {
                let now = jinguo_bus::now();
                jinguo_store::staff::add_shift(
                    c,
                    &jinguo_store::staff::Shift {
                        county: OrgCode::parse("620122").unwrap(),
                        person: officer,
                        starts_at: now - chrono::Duration::hours(1),
                        ends_at: now + chrono::Duration::hours(8),
                    },
                )
                .await
            })
        })
        .await
        .unwrap();
    Cast {
        clerk,
        officer,
        bystander,
        neighbour,
        supervisor,
    }
}

/// A case as an officer gives it over the API.
fn new_case() -> Value {
    json!({
        "village": VILLAGE,
        "source": "relative",
        "reporter": { "name": "马大姐", "phone": "13800000001" },
        "victim": {
            "name": VICTIM_NAME, "sex": "女", "age": 34, "phone": VICTIM_PHONE,
            "address": "", "safe_contact": "工作日上午打电话"
        },
        "children_ages": [6],
        "relationship": "配偶",
        "summary": "邻居反映，昨晚听到争吵和哭喊声。",
        "answers": { "injury": true },
        "consent": { "basis": "consent", "note": "当面口头同意" }
    })
}

/// A client that follows no redirects.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn post_json(app: &TestApp, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}{path}", app.base_url))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get_api(app: &TestApp, token: &str, path: &str) -> (u16, String) {
    let r = app
        .client
        .get(format!("{}{path}", app.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Takes the case in over the API as `token`'s person: its id and number.
async fn intake(app: &TestApp, token: &str) -> (String, String) {
    let (status, body) = post_json(app, token, "/api/v1/referrals", &new_case()).await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["case_number"].as_str().unwrap().to_owned(),
    )
}

async fn audit(store: &Store) -> Vec<Entry> {
    store
        .read(|c| Box::pin(jinguo_store::audit::page(c, 0, 10_000)))
        .await
        .unwrap()
}

fn audited(entries: &[Entry], actor: Uuid, action: &str, subject: &str) -> usize {
    entries
        .iter()
        .filter(|e| e.actor == actor.to_string() && e.action == action && e.subject == subject)
        .count()
}

async fn page(client: &reqwest::Client, url: &str, cookie: &str) -> (u16, String) {
    let r = client.get(url).header(COOKIE, cookie).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

// ---------------------------------------------------------------------------------------------
// The API

async fn a_case_taken_in_is_read_by_its_officer_and_refused_to_anyone_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cast = cast(&app.store).await;
    let clerk = api_token(&app.store, cast.clerk).await;
    let (id, number) = intake(&app, &clerk).await;
    assert!(number.starts_with("620122-"), "{number}");
    assert!(
        number.ends_with("-0001"),
        "the county's first case: {number}"
    );

    // The officer on duty was given the case; her read is audited with its reason.
    let officer = api_token(&app.store, cast.officer).await;
    let (status, body) = get_api(&app, &officer, &format!("/api/v1/referrals/{id}")).await;
    assert_eq!(status, 200, "{body}");
    let view: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["victim"]["name"], VICTIM_NAME);
    assert_eq!(view["line"]["case_number"], number.as_str());
    assert_eq!(
        view["tasks"].as_array().unwrap().len(),
        1,
        "the task of taking it"
    );
    let entries = audit(&app.store).await;
    let read = entries
        .iter()
        .find(|e| e.actor == cast.officer.to_string() && e.action == "referral.read")
        .expect("the read is audited");
    assert_eq!(read.subject, number);
    assert!(read.details.contains("case_work"), "{}", read.details);
    assert!(!read.details.contains(VICTIM_NAME));

    // An officer of the same county with nothing to do with it learns nothing.
    let bystander = api_token(&app.store, cast.bystander).await;
    let (status, body) = get_api(&app, &bystander, &format!("/api/v1/referrals/{id}")).await;
    assert_eq!(status, 403, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "forbidden");
    for secret in [VICTIM_NAME, VICTIM_PHONE, number.as_str(), "配偶"] {
        assert!(!body.contains(secret), "a refusal shows {secret}: {body}");
    }
    let entries = audit(&app.store).await;
    assert_eq!(
        audited(&entries, cast.bystander, "referral.refused", &number),
        1,
        "the refused read is on record"
    );
    assert_eq!(
        audited(&entries, cast.bystander, "referral.read", &number),
        0
    );
    // … and cannot act on it either (refused, audited, nothing changed).
    let (status, _) = post_json(
        &app,
        &bystander,
        &format!("/api/v1/referrals/{id}/followups"),
        &json!({ "note": "看看" }),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        audited(
            &audit(&app.store).await,
            cast.bystander,
            "referral.refused",
            &number
        ),
        2
    );

    // Lists and lookups by number show nothing of the people.
    let (status, body) = get_api(&app, &officer, "/api/v1/referrals").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&number) && !body.contains(VICTIM_NAME),
        "{body}"
    );
    let (status, body) = get_api(&app, &bystander, "/api/v1/referrals").await;
    assert_eq!(status, 200);
    assert!(!body.contains(&number), "not the bystander's case: {body}");
    let (status, body) = get_api(
        &app,
        &bystander,
        &format!("/api/v1/referrals?number={number}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let found: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(found["may_read"], false);
    let (status, _) = get_api(&app, &officer, "/api/v1/referrals?number=620122-2026-9999").await;
    assert_eq!(status, 404);
    let neighbour = api_token(&app.store, cast.neighbour).await;
    let (status, _) = get_api(
        &app,
        &neighbour,
        &format!("/api/v1/referrals?number={number}"),
    )
    .await;
    assert_eq!(status, 404, "another county's case is not found");
    let (status, body) = get_api(&app, &officer, "/api/v1/referrals?state=nonsense").await;
    assert_eq!(status, 400);
    assert!(body.contains(r#""field":"state""#), "{body}");
    let (status, body) = get_api(
        &app,
        &officer,
        &format!("/api/v1/referrals/{id}?reason=好奇"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains(r#""field":"reason""#), "{body}");
}

async fn bad_input_is_refused_by_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cast = cast(&app.store).await;
    let clerk = api_token(&app.store, cast.clerk).await;
    let cases = [
        ("/victim/phone", json!("123"), "victim.phone"),
        ("/village", json!("620122100"), "village"),
        ("/village", json!("not a code"), "village"),
        ("/summary", json!(""), "summary"),
        ("/children_ages", json!([30]), "children"),
    ];
    for (pointer, value, field) in cases {
        let mut body = new_case();
        *body.pointer_mut(pointer).unwrap() = value;
        let (status, answer) = post_json(&app, &clerk, "/api/v1/referrals", &body).await;
        assert_eq!(status, 400, "{pointer}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{pointer}: {answer}");
        assert!(!answer.to_string().contains(VICTIM_NAME));
    }
    // Outside the clerk's county: refused and audited, nothing taken in.
    let mut body = new_case();
    body["village"] = json!("620123100001");
    let (status, answer) = post_json(&app, &clerk, "/api/v1/referrals", &body).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(
        audited(
            &audit(&app.store).await,
            cast.clerk,
            "referral.refused",
            "intake"
        ),
        1
    );
    // Nothing was numbered by the refused attempts: the first case is still 0001.
    let (_, number) = intake(&app, &clerk).await;
    assert!(number.ends_with("-0001"), "{number}");
}

async fn the_acknowledgement_link_shows_only_the_number_until_pressed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cast = cast(&app.store).await;
    let clerk = api_token(&app.store, cast.clerk).await;
    let (id, number) = intake(&app, &clerk).await;

    let mails = mails_to(&app.store, cast.officer, "【巾帼】").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].0.contains(&number));
    assert!(
        !mails[0].1.contains(VICTIM_NAME),
        "no personal data in mail"
    );
    let link = links_mailed_to(&app.store, cast.officer, "【巾帼】")
        .await
        .remove(0);
    let url = format!("{}{link}", app.base_url);

    // A mail scanner's GET: the number, what is asked and by when; nothing else, no change.
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(&number), "{html}");
    assert!(html.contains("签收案件并联系当事人") && html.contains("签收期限"));
    assert!(
        html.contains(&format!(r#"href="/referrals/{id}""#)),
        "{html}"
    );
    assert!(html.contains("登录查看案件详情"));
    for secret in [VICTIM_NAME, VICTIM_PHONE, "配偶", "马大姐"] {
        assert!(!html.contains(secret), "the link page shows {secret}");
    }
    let _ = client().get(&url).send().await.unwrap();
    let entries = audit(&app.store).await;
    assert_eq!(
        audited(
            &entries,
            cast.officer,
            "referral.task_acknowledged",
            &number
        ),
        0,
        "GET changes nothing"
    );
    assert!(!entries.iter().any(|e| e.action == "link.used"));

    // 签收: acknowledged as the link's person, once.
    let r = client()
        .post(&url)
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let done = r.text().await.unwrap();
    assert!(done.contains("已签收") && done.contains(&number), "{done}");
    assert!(!done.contains(VICTIM_NAME));
    assert_eq!(
        audited(
            &audit(&app.store).await,
            cast.officer,
            "referral.task_acknowledged",
            &number
        ),
        1
    );
    let officer = api_token(&app.store, cast.officer).await;
    let (_, body) = get_api(&app, &officer, &format!("/api/v1/referrals/{id}")).await;
    let view: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["tasks"][0]["state"], "acknowledged", "{view}");
    assert_eq!(view["officer"], "李承办");
    let again = client()
        .post(&url)
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409, "a link acts once");
}

async fn break_glass_opens_a_case_inside_the_area_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cast = cast(&app.store).await;
    let clerk = api_token(&app.store, cast.clerk).await;
    let (id, number) = intake(&app, &clerk).await;
    let reason = "当事人失联，需立即核实安全状况";

    // Another county's officer: refused exactly like a number that does not exist.
    let neighbour = api_token(&app.store, cast.neighbour).await;
    let body = json!({ "case_id": number, "reason": reason });
    let (status, answer) = post_json(&app, &neighbour, "/api/v1/break-glass", &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["field"], "case_id");
    let unknown = json!({ "case_id": "620122-2026-9999", "reason": reason });
    let (status, other) = post_json(&app, &neighbour, "/api/v1/break-glass", &unknown).await;
    assert_eq!((status, &other["error"]), (400, &answer["error"]));
    // An admin of the county has no emergency access by default: refused the same way.
    let admin = add_staff(&app.store, "admin@t.cn", "陈管理", "admin", "620122").await;
    let admin = api_token(&app.store, admin).await;
    let (status, other) = post_json(&app, &admin, "/api/v1/break-glass", &body).await;
    assert_eq!((status, &other["error"]), (400, &answer["error"]));

    // An officer of the county, not on the case: refused first, then emergency access.
    let bystander = api_token(&app.store, cast.bystander).await;
    let path = format!("/api/v1/referrals/{id}?reason=%E7%B4%A7%E6%80%A5%E8%AE%BF%E9%97%AE");
    assert_eq!(get_api(&app, &bystander, &path).await.0, 403);
    let short = json!({ "case_id": number, "reason": "看看" });
    let (status, answer) = post_json(&app, &bystander, "/api/v1/break-glass", &short).await;
    assert_eq!(
        (status, answer["error"]["field"].clone()),
        (400, json!("reason"))
    );
    // `org`, which older clients send, changes nothing.
    let body = json!({ "case_id": number, "org": "620123", "reason": reason });
    let (status, answer) = post_json(&app, &bystander, "/api/v1/break-glass", &body).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["case_id"], number.as_str());
    assert!(answer["expires_at"].is_string());
    let (status, body) = get_api(&app, &bystander, &path).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(VICTIM_NAME));

    // The supervisor is told, without the reason; the log keeps no reason either.
    let told = mails_to(&app.store, cast.supervisor, "【巾帼】紧急访问").await;
    assert_eq!(told.len(), 1);
    assert!(told[0].0.contains(&number) && !told[0].1.contains("失联"));
    let entries = audit(&app.store).await;
    let grant = entries
        .iter()
        .find(|e| e.action == "break_glass.granted")
        .unwrap();
    assert_eq!(grant.subject, number);
    assert!(!grant.details.contains("失联"));
    let read = entries
        .iter()
        .find(|e| e.actor == cast.bystander.to_string() && e.action == "referral.read")
        .unwrap();
    assert!(read.details.contains("break_glass"), "{}", read.details);
}

// ---------------------------------------------------------------------------------------------
// The public page

async fn the_public_page_exits_quickly_keeps_nothing_and_confirms_with_the_number_only(
    backend: Backend,
) {
    let env = [("JINGUO_REFERRALS__SELF_REFERRAL_PER_IP_PER_HOUR", "1")];
    let app = TestApp::spawn_with(backend, jinguo_tests::Contents::Gansu, &env).await;
    let url = format!("{}/help", app.base_url);
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    let csp = r.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("<title>咨询服务"), "{html}");
    assert!(!html.contains("家暴"), "nothing on the page names it");
    let exit = html
        .find(r#"id="quick-exit" class="quick-exit" href="https://www.baidu.com/"#)
        .expect("quick exit");
    assert!(
        exit < html.find("<h1>").unwrap(),
        "the quick exit comes first"
    );
    assert!(html.contains(r#"<script src="/static/quick-exit.js""#));
    let script = client()
        .get(format!("{}/static/quick-exit.js", app.base_url))
        .send()
        .await
        .unwrap();
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(script.text().await.unwrap().contains("location.replace"));
    // Every other page still allows no script at all.
    let signin = client()
        .get(format!("{}/signin", app.base_url))
        .send()
        .await
        .unwrap();
    assert!(
        !signin.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src")
    );

    // The picker goes down without JavaScript and keeps what was typed.
    let typed = |step: &'static str, area: &str, village: &str, phone: &str| {
        vec![
            ("step", step.to_owned()),
            ("area", area.to_owned()),
            ("village", village.to_owned()),
            ("name", VICTIM_NAME.to_owned()),
            ("phone", phone.to_owned()),
            ("safe_contact", "晚上八点后发短信".to_owned()),
            ("summary", "丈夫经常动手，我很害怕。".to_owned()),
        ]
    };
    let r = client()
        .post(&url)
        .form(&typed("pick", "620122000000", "620122100000", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!(r#"value="{VILLAGE}""#)),
        "the township's villages"
    );
    assert!(
        html.contains(&format!(r#"value="{VICTIM_NAME}""#)),
        "kept: {html}"
    );

    // A refusal beside its field, with what was typed.
    let r = client()
        .post(&url)
        .form(&typed("submit", "620122100000", VILLAGE, "123"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"id="phone-error""#), "{html}");
    assert!(
        html.contains(r#"value="123""#) && html.contains(">丈夫经常动手，我很害怕。</textarea>")
    );

    // Accepted: only the number and the hotline, nothing she typed.
    let r = client()
        .post(&url)
        .form(&typed("submit", "620122100000", VILLAGE, ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    let html = r.text().await.unwrap();
    assert!(html.contains("620122-") && html.contains("12338"), "{html}");
    assert!(html.contains(r#"id="quick-exit""#));
    for secret in [VICTIM_NAME, "丈夫", "晚上八点"] {
        assert!(!html.contains(secret), "the confirmation shows {secret}");
    }

    // One accepted submission per address per hour here.
    let r = client()
        .post(&url)
        .form(&typed("submit", "620122100000", VILLAGE, ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

// ---------------------------------------------------------------------------------------------
// The officer's pages

async fn the_officer_pages_list_take_in_and_show_a_case_with_its_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cast = cast(&app.store).await;
    let c = client();
    let (clerk, csrf) = session(&app.store, cast.clerk).await;
    let base = &app.base_url;

    // The intake form: its picker starts at the clerk's county.
    let (status, html) = page(&c, &format!("{base}/referrals/new"), &clerk).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("威胁要杀害"), "the questionnaire: {html}");
    let form = |step: &'static str, phone: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("step", step.to_owned()),
            ("area", "620122100000".to_owned()),
            ("village", VILLAGE.to_owned()),
            ("source", "hospital".to_owned()),
            ("reporter.name", "刘医生".to_owned()),
            ("reporter.organisation", "皋兰县人民医院".to_owned()),
            ("victim.name", VICTIM_NAME.to_owned()),
            ("victim.sex", "女".to_owned()),
            ("victim.age", "34".to_owned()),
            ("victim.phone", phone.to_owned()),
            ("victim.safe_contact", "只在白天打电话".to_owned()),
            ("children", "6，9".to_owned()),
            ("relationship", "配偶".to_owned()),
            ("summary", "急诊就医，多处软组织挫伤。".to_owned()),
            ("answer", "injury".to_owned()),
            ("answer", "escalating".to_owned()),
            ("consent.basis", "statutory_duty".to_owned()),
            ("consent.note", "医疗机构强制报告".to_owned()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        c.post(format!("{base}/referrals/new"))
            .header(COOKIE, &clerk)
            .form(&fields)
            .send()
    };
    let r = post(form("submit", "123")).await.unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    // The refusal is tied to its field, announced, focused, and the title says it failed.
    assert!(
        html.contains(r#"id="victim.phone-error" role="alert""#)
            && html
                .contains(r#"aria-invalid="true" aria-describedby="victim.phone-error" autofocus"#)
            && html.contains("<title>提交未成功"),
        "{html}"
    );
    assert!(
        html.contains(&format!(r#"value="{VICTIM_NAME}""#)) && html.contains(r#"value="6，9""#)
    );
    assert!(
        html.contains(r#"value="escalating" checked"#),
        "ticked answers stay ticked"
    );
    let r = post(form("up", "")).await.unwrap();
    assert_eq!(r.status(), 200, "a picker step takes nothing in");
    let r = post(form("submit", VICTIM_PHONE)).await.unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/referrals/") && location.contains("?reason="),
        "{location}"
    );

    // The officer's list, the reason asked first, then the case.
    let (officer, officer_csrf) = session(&app.store, cast.officer).await;
    let (status, html) = page(&c, &format!("{base}/referrals"), &officer).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("620122-") && html.contains("登记新案件"),
        "{html}"
    );
    assert!(!html.contains(VICTIM_NAME));
    let case = location.split('?').next().unwrap().to_owned();
    let (status, html) = page(&c, &format!("{base}{case}"), &officer).await;
    assert_eq!(status, 200);
    assert!(html.contains("请选择查看原因") && html.contains(r#"name="reason""#));
    assert!(
        !html.contains(VICTIM_NAME) && !html.contains("620122-"),
        "{html}"
    );
    let (status, html) = page(&c, &format!("{base}{location}"), &officer).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(VICTIM_NAME) && html.contains("刘医生"),
        "{html}"
    );
    assert!(html.contains("签收案件") && html.contains("办理记录"));
    assert!(
        html.contains("风险评估与派发任务"),
        "the officer may assess"
    );

    // Steps from the page: a refused one beside its form, then an accepted one.
    let task = html
        .split("/tasks/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let r = c
        .post(format!("{base}{case}/tasks/{task}/acknowledge"))
        .header(COOKIE, &officer)
        .form(&[("csrf", officer_csrf.as_str()), ("read_reason", "案件处置")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = c
        .post(format!("{base}{case}/reopen"))
        .header(COOKIE, &officer)
        .form(&[
            ("csrf", officer_csrf.as_str()),
            ("read_reason", "案件处置"),
            ("reason", "再看"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "only a closed case reopens");
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"class="error""#) && html.contains(VICTIM_NAME));
    let r = c
        .post(format!("{base}{case}/assess"))
        .header(COOKIE, &officer)
        .form(&[
            ("csrf", officer_csrf.as_str()),
            ("read_reason", "案件处置"),
            ("answer", "threats_to_kill"),
            ("agency", "police"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = page(&c, &format!("{base}{location}"), &officer).await;
    assert!(
        html.contains("极高风险") && html.contains("公安：出具告诫书"),
        "{html}"
    );

    // A bystander's read: a Chinese 403 that says nothing about the case, and on record.
    let (bystander, _) = session(&app.store, cast.bystander).await;
    let (status, html) = page(&c, &format!("{base}{location}"), &bystander).await;
    assert_eq!(status, 403);
    // It names the asker's own post by unit, which they know already.
    assert!(
        html.contains("没有权限") && html.contains("您现在的岗位：皋兰县 个案专员"),
        "{html}"
    );
    for secret in [VICTIM_NAME, "620122-", "配偶"] {
        assert!(!html.contains(secret), "a refused page shows {secret}");
    }
    assert!(
        audit(&app.store)
            .await
            .iter()
            .any(|e| e.actor == cast.bystander.to_string() && e.action == "referral.refused")
    );

    // The 工作台 tile.
    let (status, html) = page(&c, &format!("{base}/me"), &officer).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("反家暴联动") && html.contains("办理中 1 件"),
        "{html}"
    );
    let (reviewer, _) = {
        let id = add_staff(&app.store, "rev@t.cn", "吴审核", "reviewer", "620122").await;
        session(&app.store, id).await
    };
    let (_, html) = page(&c, &format!("{base}/me"), &reviewer).await;
    assert!(
        !html.contains("反家暴联动"),
        "only for those who work on cases"
    );
}

jinguo_tests::on_both_backends!(
    a_case_taken_in_is_read_by_its_officer_and_refused_to_anyone_else,
    bad_input_is_refused_by_field,
    the_acknowledgement_link_shows_only_the_number_until_pressed,
    break_glass_opens_a_case_inside_the_area_only,
    the_public_page_exits_quickly_keeps_nothing_and_confirms_with_the_number_only,
    the_officer_pages_list_take_in_and_show_a_case_with_its_reason,
);
