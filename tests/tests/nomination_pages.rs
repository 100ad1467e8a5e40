//! The 最美家庭 pages of issue 15: nominating a family as the organisation with the village
//! picker, the nomination's page with its timeline and steps, and the public self-nomination
//! form by village name with a readable reference. Every form is driven as a browser without
//! JavaScript would: picker steps post the form back, refusals come back beside their field
//! with what was typed.

use jinguo_core::org::OrgCode;
use jinguo_store::{Store, orgs};
use jinguo_tests::nominating::{campaign, csrf_of, units};
use jinguo_tests::{Backend, TestApp, add_staff, api_token, session};
use uuid::Uuid;

const STORY: &str = "王秀兰一家孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，是远近闻名的好家庭，值得大家学习。";
/// A valid resident ID number (GB 11643 check digit).
const HEAD_ID: &str = "620122198001011234";

struct World {
    app: TestApp,
    /// A browser that does not follow redirects, so that a test sees where it is sent.
    browser: reqwest::Client,
    county: OrgCode,
    town: OrgCode,
    village: OrgCode,
    town_name: String,
    village_name: String,
    admin: Uuid,
    reviewer: Uuid,
    campaign: String,
}

async fn name_of(store: &Store, code: OrgCode) -> String {
    store
        .read(move |c| Box::pin(orgs::get(c, code)))
        .await
        .unwrap()
        .unwrap()
        .name
}

async fn world(backend: Backend) -> World {
    let app = TestApp::spawn(backend).await;
    let (county, town, village) = units(&app.store).await;
    let admin = add_staff(
        &app.store,
        "admin@example.cn",
        "县妇联管理员",
        "admin",
        "620122",
    )
    .await;
    let reviewer = add_staff(
        &app.store,
        "v@example.cn",
        "村审核员",
        "reviewer",
        village.as_str(),
    )
    .await;
    let token = api_token(&app.store, admin).await;
    let campaign = campaign(&app, &token, "2026年皋兰县最美家庭").await;
    World {
        town_name: name_of(&app.store, town).await,
        village_name: name_of(&app.store, village).await,
        browser: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        app,
        county,
        town,
        village,
        admin,
        reviewer,
        campaign,
    }
}

impl World {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app.base_url)
    }

    async fn get(&self, path: &str, cookie: &str) -> (u16, String) {
        let r = self
            .browser
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// POST a form; the status, the `Location` and the body.
    async fn post(&self, path: &str, cookie: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let r = self
            .browser
            .post(self.url(path))
            .header("cookie", cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status().as_u16(), location, r.text().await.unwrap())
    }
}

/// Whether `text` holds something shaped like a UUID.
fn holds_uuid(text: &str) -> bool {
    text.as_bytes().windows(36).any(|w| {
        w.iter().enumerate().all(|(j, c)| {
            if matches!(j, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
    })
}

/// Every field of a refused page's form is tied to its message and the message announced.
fn refused_beside(page: &str, field: &str) {
    assert!(
        page.contains(&format!("aria-describedby=\"{field}-error\"")),
        "{field} tied to its message: {page}"
    );
    assert!(
        page.contains(&format!("id=\"{field}-error\" role=\"alert\"")),
        "{field}'s message announced: {page}"
    );
}

async fn the_organisation_nominates_through_the_form_and_its_page_shows_the_timeline(
    backend: Backend,
) {
    let w = world(backend).await;
    let (cookie, csrf) = session(&w.app.store, w.admin).await;
    let path = format!("/campaigns/{}/nominate", w.campaign);

    // The picker starts at the admin's county (the campaign's area) and lists its townships.
    let (status, page) = w.get(&path, &cookie).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<main id=\"main\">"));
    assert!(page.contains(&w.town_name), "townships by name");
    assert_eq!(csrf_of(&page), csrf);

    // Down to the township: its villages by name; nothing is taken in, what was typed stays.
    let town = w.town.to_string();
    let county = w.county.to_string();
    let village = w.village.to_string();
    let (status, _, page) = w
        .post(
            &path,
            &cookie,
            &[
                ("csrf", &csrf),
                ("area", &county),
                ("village", &town),
                ("step", "pick"),
                ("head_name", "王秀兰"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(page.contains(&w.village_name), "villages by name");
    assert!(page.contains("value=\"王秀兰\""), "what was typed is kept");

    // A bad phone, a member without the relation and a story too short: each refused beside
    // its field at once, the focus on the first, everything kept.
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("area", town.as_str()),
        ("village", village.as_str()),
        ("step", "submit"),
        ("category", "五好家庭"),
        ("head_name", "王秀兰"),
        ("head_id", HEAD_ID),
        ("address", "皋兰县某村三社"),
        ("phone", "1391234"),
        ("members", "李强\n李小明 儿子"),
        ("story", "太短了"),
    ];
    let (status, _, page) = w.post(&path, &cookie, &form).await;
    assert_eq!(status, 400, "{page}");
    for field in ["phone", "members", "story"] {
        refused_beside(&page, field);
    }
    assert!(page.contains(r#"aria-describedby="phone-error" autofocus"#));
    assert!(!page.contains(r#"aria-describedby="story-error" autofocus"#));
    form.retain(|(k, _)| !matches!(*k, "phone" | "members"));
    form.push(("phone", "13912345678"));
    form.push(("members", "李强 丈夫\n李小明 儿子"));
    let (status, _, page) = w.post(&path, &cookie, &form).await;
    assert_eq!(status, 400, "{page}");
    refused_beside(&page, "story");
    assert!(!page.contains(r#"aria-describedby="phone-error""#));
    assert!(page.contains("家庭事迹："), "{page}");
    assert!(page.contains("提交未成功"), "the title says so");
    for kept in [
        "王秀兰",
        HEAD_ID,
        "皋兰县某村三社",
        "13912345678",
        "李小明 儿子",
        "太短了",
    ] {
        assert!(page.contains(kept), "{kept} is kept");
    }
    assert!(
        page.contains("<option selected>五好家庭</option>"),
        "{page}"
    );

    // Corrected: the nomination's page.
    form.retain(|(k, _)| *k != "story");
    form.push(("story", STORY));
    let (status, location, _) = w.post(&path, &cookie, &form).await;
    assert_eq!(status, 303);
    let id: Uuid = location
        .strip_prefix("/nominations/")
        .expect("sent to the nomination's page")
        .parse()
        .unwrap();

    // Names, not codes; the identifiers masked only.
    let (status, page) = w.get(&location, &cookie).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<main id=\"main\">"));
    assert!(page.contains(&w.village_name) && page.contains(&w.town_name));
    assert!(!page.contains(&village), "no village code");
    assert!(page.contains("组织推荐") && page.contains("村级审核中"));
    assert!(page.contains("李小明（儿子）"));
    assert!(!page.contains(HEAD_ID) && !page.contains("13912345678"));
    assert!(page.contains("6201") && page.contains("1234") && page.contains("****"));
    assert!(page.contains("提交推荐") && page.contains("县妇联管理员"));
    assert!(page.contains("620122-2026-"), "its reference: {page}");

    // The village reviewer returns it over the API: the timeline says who, what and why.
    let task = w
        .app
        .store
        .read(move |c| {
            Box::pin(async move { jinguo_store::nominations::tasks(c, id, "village").await })
        })
        .await
        .unwrap()[0]
        .id;
    let token = api_token(&w.app.store, w.reviewer).await;
    let decided = w
        .app
        .client
        .post(w.url(&format!("/api/v1/reviews/{task}/decision")))
        .bearer_auth(token)
        .json(&serde_json::json!({ "decision": "return", "reason": "请补充照顾婆婆的具体事例" }))
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), 200);
    let (_, page) = w.get(&location, &cookie).await;
    assert!(page.contains("村级审核：退回推荐人"), "{page}");
    assert!(page.contains("村审核员") && page.contains("请补充照顾婆婆的具体事例"));
    assert!(page.contains("已退回推荐人"));

    // Edit and resubmit from the page: a story too short is refused beside it, kept.
    let resubmit = format!("/nominations/{id}/resubmit");
    let (status, _, page) = w
        .post(
            &resubmit,
            &cookie,
            &[("csrf", &csrf), ("story", "还是太短")],
        )
        .await;
    assert_eq!(status, 400);
    refused_beside(&page, "story");
    assert!(page.contains("还是太短"));
    let revised = format!("{STORY}她还发动邻居一起照顾村里的孤寡老人。");
    let (status, _, _) = w
        .post(&resubmit, &cookie, &[("csrf", &csrf), ("story", &revised)])
        .await;
    assert_eq!(status, 303);
    let (_, page) = w.get(&location, &cookie).await;
    assert!(page.contains("修改后重新提交") && page.contains("孤寡老人"));
    assert!(page.contains("村级审核中"));

    // Withdraw: a reason is needed (beside the field), then it is withdrawn.
    let withdraw = format!("/nominations/{id}/withdraw");
    let (status, _, page) = w
        .post(&withdraw, &cookie, &[("csrf", &csrf), ("reason", " ")])
        .await;
    assert_eq!(status, 400);
    refused_beside(&page, "reason");
    let (status, _, _) = w
        .post(
            &withdraw,
            &cookie,
            &[("csrf", csrf.as_str()), ("reason", "家庭本人不愿参评")],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page) = w.get(&location, &cookie).await;
    assert!(page.contains("已撤回") && page.contains("家庭本人不愿参评"));
    assert!(
        !page.contains("action=\"/nominations/"),
        "nothing left to do: {page}"
    );
    // A stale form is refused.
    let (status, _, _) = w
        .post(&withdraw, &cookie, &[("csrf", "stale"), ("reason", "x")])
        .await;
    assert_eq!(status, 403);

    // The JSON API and the page agree on who may read it: a reviewer of another village may not.
    let (_, _, villages) = jinguo_tests::nominating::villages(&w.app.store).await;
    let other = add_staff(
        &w.app.store,
        "o@example.cn",
        "别村审核员",
        "reviewer",
        villages[1].as_str(),
    )
    .await;
    let (other_cookie, _) = session(&w.app.store, other).await;
    let (status, page) = w.get(&location, &other_cookie).await;
    assert_eq!(status, 403);
    assert!(page.contains(&w.village_name) && !page.contains("王秀兰"));
    // Signed out: to the sign-in page.
    let (status, _) = w.get(&location, "").await;
    assert_eq!(status, 303);
}

async fn the_public_form_picks_the_village_by_name_and_keeps_what_was_typed(backend: Backend) {
    let w = world(backend).await;
    let path = format!("/nominate/{}", w.campaign);
    let (status, page) = w.get(&path, "").await;
    assert_eq!(status, 200);
    assert!(page.contains("<main id=\"main\">") && page.contains(&w.town_name));
    assert!(!page.contains("12位"), "no code to type");

    // Down to the township, before anything else is typed.
    let (town, county, village) = (
        w.town.to_string(),
        w.county.to_string(),
        w.village.to_string(),
    );
    let (status, _, page) = w
        .post(
            &path,
            "",
            &[("area", &county), ("village", &town), ("step", "pick")],
        )
        .await;
    assert_eq!(status, 200);
    assert!(page.contains(&w.village_name));

    // Two mistakes, one after the other, each corrected without retyping the rest.
    let mut form = vec![
        ("area", town.as_str()),
        ("village", village.as_str()),
        ("step", "submit"),
        ("category", "最美家庭"),
        ("head_name", "王秀兰"),
        ("head_id", "620122198001011235"),
        ("address", "皋兰县某村三社"),
        ("phone", ""),
        ("story", STORY),
    ];
    let (status, _, page) = w.post(&path, "", &form).await;
    assert_eq!(status, 400, "the phone is required");
    refused_beside(&page, "phone");
    assert!(page.contains("联系电话："));
    for kept in ["王秀兰", "620122198001011235", "皋兰县某村三社", STORY] {
        assert!(page.contains(kept), "{kept} is kept");
    }
    assert!(
        page.contains(&format!("value=\"{village}\" selected")),
        "the village is kept"
    );

    form.retain(|(k, _)| *k != "phone");
    form.push(("phone", "13912345678"));
    let (status, _, page) = w.post(&path, "", &form).await;
    assert_eq!(status, 400, "a wrong check digit");
    refused_beside(&page, "head_id");
    assert!(page.contains("户主身份证号或手机号："));
    assert!(page.contains("13912345678"), "the phone is kept");
    assert!(!page.contains("aria-describedby=\"phone-error\""));

    form.retain(|(k, _)| *k != "head_id");
    form.push(("head_id", HEAD_ID));
    let (status, _, page) = w.post(&path, "", &form).await;
    assert_eq!(status, 201, "{page}");
    assert!(page.contains("自荐已提交"));
    let at = page.find("620122-2026-").expect("a readable reference");
    let reference = &page[at..at + "620122-2026-0001".len()];
    assert!(
        reference[12..].bytes().all(|b| b.is_ascii_digit()),
        "{reference}"
    );
    assert!(!holds_uuid(&page), "no id: {page}");
    assert!(!page.contains("13912345678") && !page.contains(HEAD_ID));

    // A village code posted directly is still accepted (another family).
    let form = [
        ("village", village.as_str()),
        ("category", "最美家庭"),
        ("head_name", "赵兰"),
        ("head_id", "13800001111"),
        ("address", "皋兰县某村四社"),
        ("phone", "13800001111"),
        ("story", STORY),
    ];
    let (status, _, page) = w.post(&path, "", &form).await;
    assert_eq!(status, 201, "{page}");
    assert!(page.contains("620122-2026-"));
}

async fn unknown_or_malformed_campaigns_get_a_chinese_page(backend: Backend) {
    let w = world(backend).await;
    let unknown = Uuid::new_v4();
    for path in [
        format!("/nominate/{unknown}"),
        "/nominate/not-a-campaign".to_owned(),
    ] {
        let (status, page) = w.get(&path, "").await;
        assert!(status == 404 || status == 400, "{path}: {status}");
        assert!(page.contains("<html lang=\"zh-CN\">"), "{page}");
        assert!(
            !page.contains("UUID") && !page.contains("invalid") && !page.contains("parse"),
            "no parser message: {page}"
        );
    }
    let (_, page) = w.get(&format!("/nominate/{unknown}"), "").await;
    assert!(page.contains("没有这项评选"));
    let form = [("village", "620122100201"), ("phone", "13912345678")];
    let (status, _, page) = w.post(&format!("/nominate/{unknown}"), "", &form).await;
    assert_eq!(status, 404);
    assert!(page.contains("没有这项评选"));
    // The organisation's form, too.
    let (cookie, _) = session(&w.app.store, w.admin).await;
    let (status, page) = w
        .get(&format!("/campaigns/{unknown}/nominate"), &cookie)
        .await;
    assert_eq!(status, 404);
    assert!(page.contains("没有这项评选"));
    let (status, page) = w.get(&format!("/nominations/{unknown}"), &cookie).await;
    assert_eq!(status, 404);
    assert!(page.contains("没有这份推荐"));
}

jinguo_tests::on_both_backends!(
    the_organisation_nominates_through_the_form_and_its_page_shows_the_timeline,
    the_public_form_picks_the_village_by_name_and_keeps_what_was_typed,
    unknown_or_malformed_campaigns_get_a_chinese_page,
);
