//! The county coordinator's campaign dashboard (`/admin/campaigns/{id}`), its exports and the
//! paged list API, on both backends.

use jinguo_core::org::OrgCode;
use jinguo_store::orgs;
use jinguo_tests::nominating::{campaign, villages};
use jinguo_tests::{Backend, TestApp, add_staff, api_token, on_both_backends, session};
use serde_json::{Value, json};
use uuid::Uuid;

/// A valid resident ID number (GB 11643 check digit) born 1980-01-01, numbered `n`.
fn resident_id(n: u32) -> String {
    let body = format!("62012219800101{:03}", n % 1000);
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    let check = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize];
    format!("{body}{check}")
}

struct World {
    app: TestApp,
    token: String,
    admin: Uuid,
    campaign: String,
    county: OrgCode,
    /// A township whose first village has a reviewer, and its name.
    town: (OrgCode, String),
    /// Another township, whose village has none (its nominations stall), and its name.
    other_town: (OrgCode, String),
    village: OrgCode,
    other_village: OrgCode,
}

async fn world(backend: Backend) -> World {
    let app = TestApp::spawn(backend).await;
    let (county, town, vs) = villages(&app.store).await;
    let townships = app
        .store
        .read(move |c| Box::pin(orgs::children(c, county)))
        .await
        .unwrap();
    let other = townships[1].clone();
    let other_village = app
        .store
        .read(move |c| Box::pin(orgs::children(c, other.code)))
        .await
        .unwrap()[0]
        .code;
    let admin = add_staff(
        &app.store,
        "admin@example.cn",
        "县管理员",
        "admin",
        "620122",
    )
    .await;
    add_staff(
        &app.store,
        "rv@example.cn",
        "村审核员",
        "reviewer",
        vs[0].as_str(),
    )
    .await;
    let token = api_token(&app.store, admin).await;
    let campaign = campaign(&app, &token, "2026年皋兰县最美家庭评选").await;
    World {
        token,
        admin,
        campaign,
        county,
        town: (town, townships[0].name.clone()),
        other_town: (other.code, other.name.clone()),
        village: vs[0],
        other_village,
        app,
    }
}

impl World {
    async fn submit(&self, village: OrgCode, head: &str, n: u32) -> String {
        let r = self
            .app
            .client
            .post(format!("{}/api/v1/nominations", self.app.base_url))
            .bearer_auth(&self.token)
            .json(&json!({
                "campaign_id": self.campaign, "village": village.as_str(), "category": "最美家庭",
                "channel": "organization",
                "family": { "head_name": head, "head_id": resident_id(n), "address": "皋兰县某村",
                            "members": [{ "name": "王强", "relation": "丈夫" }] },
                "story": "一家人孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，带动乡邻共同建设美丽庭院，是远近闻名的好家庭。"
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// GET a dashboard path as `person`: status, headers and body.
    async fn get_as(&self, person: Uuid, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let (cookie, _) = session(&self.app.store, person).await;
        let r = self
            .app
            .client
            .get(format!(
                "{}/admin/campaigns/{}{path}",
                self.app.base_url, self.campaign
            ))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.headers().clone(),
            r.bytes().await.unwrap().to_vec(),
        )
    }

    async fn page(&self, query: &str) -> String {
        let (status, _, body) = self.get_as(self.admin, query).await;
        assert_eq!(status, 200);
        String::from_utf8(body).unwrap()
    }

    async fn list(&self, query: &str) -> (u16, Value) {
        let r = self
            .app
            .client
            .get(format!(
                "{}/api/v1/campaigns/{}/nominations{query}",
                self.app.base_url, self.campaign
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

/// 52 nominations in a village with a reviewer, 3 in another township's village without one.
async fn filled(backend: Backend) -> World {
    let w = world(backend).await;
    for i in 0..52 {
        w.submit(w.village, &format!("李{i}"), i).await;
    }
    for i in 0..3 {
        w.submit(w.other_village, &format!("张{i}"), 100 + i).await;
    }
    w
}

async fn dashboard_counts_per_township_with_a_chart_and_pages_of_fifty(backend: Backend) {
    let w = filled(backend).await;
    let html = w.page("").await;
    assert!(html.contains("<svg") && html.contains("<rect"), "{html}");
    // Townships by name, states as the pages name them, the counts in the table.
    for needle in [
        w.town.1.as_str(),
        w.other_town.1.as_str(),
        "村级审核中",
        "<td class=\"n\">52</td>",
        "<td class=\"n\">55</td>",
        "共 55 条",
        "第 1 / 2 页",
        "3 份因无在岗审核员而停滞",
    ] {
        assert!(html.contains(needle), "{needle} missing: {html}");
    }
    assert!(!html.contains(w.county.as_str()), "no codes shown");
    assert_eq!(html.matches("href=\"/nominations/").count(), 50);
    assert!(html.contains("page=2\" rel=\"next\">下一页</a>"), "{html}");
    let second = w.page("?page=2").await;
    assert!(second.contains("第 2 / 2 页") && second.contains("rel=\"prev\">上一页</a>"));
    assert_eq!(second.matches("href=\"/nominations/").count(), 5);
}

async fn filters_narrow_the_rows_and_keep_their_values(backend: Backend) {
    let w = filled(backend).await;
    let stalled = w.page("?stalled=1").await;
    assert!(stalled.contains("共 3 条（已筛选）"), "{stalled}");
    assert!(stalled.contains("name=\"stalled\" value=\"1\" checked"));
    assert_eq!(stalled.matches("href=\"/nominations/").count(), 3);
    let town = w.page(&format!("?township={}", w.other_town.0)).await;
    assert!(town.contains("共 3 条"), "{town}");
    assert!(town.contains(&format!("value=\"{}\" selected", w.other_town.0)));
    let state = w.page("?state=township_review").await;
    assert!(state.contains("共 0 条") && state.contains("没有符合条件的推荐"));
    assert!(state.contains("value=\"township_review\" selected"));
    let overdue = w.page("?overdue=1").await;
    assert!(overdue.contains("共 0 条"), "no deadlines in this campaign");
    // The list API: the same filters, paged.
    let (status, all) = w.list("?per_page=10&page=6").await;
    assert_eq!(status, 200);
    assert_eq!(all["total"], 55);
    assert_eq!(all["nominations"].as_array().unwrap().len(), 5);
    let (_, stalled) = w.list("?stalled=1").await;
    assert_eq!(stalled["total"], 3);
    assert!(
        stalled["nominations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["stalled"] == true && n["township_name"] == w.other_town.1.as_str())
    );
    let (_, first) = w.list("").await;
    assert_eq!(first["per_page"], 50);
    assert_eq!(first["nominations"].as_array().unwrap().len(), 50);
    let (too_many, _) = w.list("?per_page=201").await;
    assert_eq!(too_many, 400);
}

async fn exports_hold_the_filtered_rows_with_chinese_headers(backend: Backend) {
    let w = filled(backend).await;
    let header = [
        "家庭",
        "村",
        "乡镇",
        "类别",
        "推荐渠道",
        "状态",
        "提交时间",
        "截止时间",
        "逾期/停滞",
    ];
    let (status, headers, body) = w
        .get_as(
            w.admin,
            &format!("/export.xlsx?township={}", w.other_town.0),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .contains("spreadsheetml")
    );
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(body)).unwrap();
    let range = book.worksheet_range("推荐名单").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows[0], header);
    assert_eq!(rows.len(), 4, "{rows:?}");
    for r in &rows[1..] {
        assert!(r[0].starts_with('张'));
        assert_eq!(r[2], w.other_town.1);
        assert_eq!(r[4], "组织推荐");
        assert_eq!(r[5], "村级审核中");
        assert_eq!(r[8], "停滞");
    }
    let (status, headers, csv) = w.get_as(w.admin, "/export.csv").await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        csv.starts_with(b"\xEF\xBB\xBF"),
        "a byte order mark for Excel"
    );
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], header.join(","));
    assert_eq!(lines.len(), 56);
    assert!(!text.contains("620122198001"), "never an ID number");
}

async fn a_held_nomination_shows_as_village_review_to_a_county_admin(backend: Backend) {
    let w = world(backend).await;
    let first = w.submit(w.village, "赵敏", 7).await;
    let id: Uuid = first.parse().unwrap();
    w.app
        .store
        .transaction(move |c| {
            Box::pin(async move {
                let n = jinguo_store::nominations::get(c, id).await?.unwrap();
                jinguo_store::nominations::set_incident_flag(c, n.household_id, true).await
            })
        })
        .await
        .unwrap();
    let withdrawn = w
        .app
        .client
        .post(format!(
            "{}/api/v1/nominations/{id}/withdraw",
            w.app.base_url
        ))
        .bearer_auth(&w.token)
        .json(&json!({ "reason": "重新提交" }))
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 200);
    w.submit(w.village, "赵敏", 7).await;
    let html = w.page("?state=village_review").await;
    assert!(!html.contains("资格核查中"), "{html}");
    assert!(
        html.contains("共 1 条") && html.contains("赵敏家庭"),
        "{html}"
    );
    let (_, listed) = w.list("?state=village_review").await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["nominations"][0]["state"], "village_review");
    let (_, held) = w.list("?state=eligibility_review").await;
    assert_eq!(held["total"], 0);
    let (_, csv) = (0, w.get_as(w.admin, "/export.csv").await.2);
    let text = String::from_utf8(csv).unwrap();
    assert!(text.contains("村级审核中") && !text.contains("资格核查中"));
}

async fn someone_outside_the_campaign_gets_the_chinese_403(backend: Backend) {
    let w = world(backend).await;
    let stranger = add_staff(
        &w.app.store,
        "elsewhere@example.cn",
        "外县管理员",
        "admin",
        "620102",
    )
    .await;
    for path in ["", "/export.xlsx", "/export.csv"] {
        let (status, _, body) = w.get_as(stranger, path).await;
        assert_eq!(status, 403);
        let html = String::from_utf8(body).unwrap();
        assert!(
            html.contains("没有权限") && html.contains("皋兰县"),
            "{html}"
        );
    }
}

/// The ids of a list API answer, in its order.
fn ids(body: &Value) -> Vec<String> {
    body["nominations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Walks the list API by `after=` cursors, `per_page` at a time: every id, in order, and how
/// many pages it took.
async fn walk(w: &World, extra: &str, per_page: u32) -> (Vec<String>, usize) {
    let (mut walked, mut pages) = (Vec::new(), 0);
    let mut after: Option<String> = None;
    loop {
        let start = after
            .as_ref()
            .map(|a| format!("&after={a}"))
            .unwrap_or_default();
        let (status, body) = w.list(&format!("?per_page={per_page}{extra}{start}")).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        walked.extend(ids(&body));
        match body["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return (walked, pages),
        }
        assert!(pages < 100, "the walk never ends");
    }
}

/// Every id of the list in one page, newest first.
async fn all_ids(w: &World, extra: &str) -> Vec<String> {
    let (_, body) = w.list(&format!("?per_page=200{extra}")).await;
    assert_eq!(body["next"], Value::Null, "one page holds them all");
    ids(&body)
}

async fn keyset_pages_return_each_row_once_in_order(backend: Backend) {
    let w = filled(backend).await;
    let everything = all_ids(&w, "").await;
    assert_eq!(everything.len(), 55);
    let (walked, pages) = walk(&w, "", 10).await;
    assert_eq!(
        walked, everything,
        "the cursor walk is the list, once, in order"
    );
    assert_eq!(pages, 6);
    // Filters hold across pages too.
    let town = format!("&township={}", w.other_town.0);
    let (walked, _) = walk(&w, &town, 2).await;
    assert_eq!(walked, all_ids(&w, &town).await);
    assert_eq!(walked.len(), 3);

    // A nomination submitted while someone pages is newer than every cursor: the rest of the
    // walk neither repeats nor skips a row.
    let (_, first) = w.list("?per_page=20").await;
    let next = first["next"].as_str().unwrap().to_owned();
    w.submit(w.village, "新来", 500).await;
    let (_, rest) = w.list(&format!("?per_page=200&after={next}")).await;
    assert_eq!(ids(&rest), everything[20..]);

    // Asking wrongly: a cursor this list never gave, or a cursor and a page number at once.
    let (status, body) = w.list("?after=yesterday").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("after"))
    );
    let (status, body) = w.list(&format!("?page=2&after={next}")).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("page"))
    );
}

async fn keyset_pages_break_ties_of_the_same_instant_by_id(backend: Backend) {
    let w = filled(backend).await;
    // Every nomination submitted at the same instant (an import, a clock with coarse ticks).
    w.app
        .store
        .read(|c| {
            Box::pin(async move {
                use diesel_async::RunQueryDsl;
                let q = diesel::sql_query(
                    "UPDATE nominations SET created_at = (SELECT min(created_at) FROM nominations)",
                );
                jinguo_store::on_backend!(c, |c| q.execute(c).await)
                    .map_err(jinguo_store::StoreError::from)
            })
        })
        .await
        .unwrap();
    let everything = all_ids(&w, "").await;
    assert_eq!(everything.len(), 55);
    let (walked, _) = walk(&w, "", 7).await;
    assert_eq!(walked, everything);
    let mut unique = walked.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 55);
    // The dashboard's pages by number agree with its pages by cursor.
    let first = w.page("").await;
    let end = first.find("\" rel=\"next\"").unwrap();
    let start = first[..end].rfind("href=\"").unwrap() + "href=\"".len();
    let next = first[start..end]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(
        next.contains("after=") && next.ends_with("page=2"),
        "{next}"
    );
    let by_cursor = w
        .page(next.trim_start_matches(&format!("/admin/campaigns/{}", w.campaign)))
        .await;
    let by_number = w.page("?page=2").await;
    let rows = |html: &str| -> Vec<String> {
        html.split("href=\"/nominations/")
            .skip(1)
            .map(|s| s[..36].to_owned())
            .collect()
    };
    assert_eq!(rows(&by_cursor).len(), 5);
    assert_eq!(rows(&by_cursor), rows(&by_number));
    assert_eq!(rows(&by_cursor), everything[50..]);
    assert!(by_cursor.contains("第 2 / 2 页") && !by_cursor.contains("rel=\"next\""));
}

async fn a_unit_within_the_campaign_area_lists_only_its_own(backend: Backend) {
    let w = filled(backend).await;
    let html = w.page(&format!("?org={}", w.other_town.0)).await;
    assert!(html.contains("共 3 条"), "{html}");
    assert_eq!(html.matches("href=\"/nominations/").count(), 3);
    assert!(html.contains("3 份因无在岗审核员而停滞"), "{html}");
    let (_, listed) = w.list(&format!("?org={}", w.town.0)).await;
    assert_eq!(listed["total"], 52);
    assert_eq!(listed["nominations"].as_array().unwrap().len(), 50);
    assert!(
        listed["nominations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["township_name"] == w.town.1.as_str() && n["village_name"] != "")
    );
}

on_both_backends!(
    dashboard_counts_per_township_with_a_chart_and_pages_of_fifty,
    filters_narrow_the_rows_and_keep_their_values,
    exports_hold_the_filtered_rows_with_chinese_headers,
    a_held_nomination_shows_as_village_review_to_a_county_admin,
    someone_outside_the_campaign_gets_the_chinese_403,
    keyset_pages_return_each_row_once_in_order,
    keyset_pages_break_ties_of_the_same_instant_by_id,
    a_unit_within_the_campaign_area_lists_only_its_own,
);
