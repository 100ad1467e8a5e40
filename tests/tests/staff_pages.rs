//! The county admin's staff page, as a phone user meets it: add a person with the lists,
//! see who was added where, the welcome mail, no button to disable oneself, and a CSV import
//! from the page's own template — all rows or none, refused by line.

use jinguo_core::auth::Role;
use jinguo_store::{Store, staff};
use jinguo_tests::nominating::{mails_to, units};
use jinguo_tests::{Backend, TestApp, add_staff, session};
use uuid::Uuid;

/// A client that keeps no cookies and follows no redirects: each request as the browser sends it.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Admin {
    app: TestApp,
    id: Uuid,
    cookie: String,
    csrf: String,
    client: reqwest::Client,
}

impl Admin {
    async fn of_the_county(backend: Backend) -> Admin {
        let app = TestApp::spawn(backend).await;
        let id = add_staff(
            &app.store,
            "admin@example.cn",
            "县管理员",
            "admin",
            "620122",
        )
        .await;
        let (cookie, csrf) = session(&app.store, id).await;
        Admin {
            app,
            id,
            cookie,
            csrf,
            client: browser(),
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.app.base_url))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Posts `form` (with the session's CSRF value and the county): status, Location, body.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let mut body = vec![("csrf", self.csrf.as_str()), ("org", "620122")];
        body.extend_from_slice(form);
        let r = self
            .client
            .post(format!("{}{path}", self.app.base_url))
            .header("cookie", &self.cookie)
            .form(&body)
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

async fn find(store: &Store, email: &'static str) -> Option<Uuid> {
    store
        .read(move |c| Box::pin(async move { staff::find_by_email(c, email).await }))
        .await
        .unwrap()
        .map(|(id, _)| id)
}

async fn staff_count(store: &Store) -> usize {
    store
        .read(|c| Box::pin(staff::list(c, None)))
        .await
        .unwrap()
        .len()
}

/// The add form lists the county's units by name and starts with no role; an empty role is
/// refused beside its field with everything typed kept; then the person is added, the page
/// says who was added where, and they are mailed how to sign in.
async fn adding_with_the_lists_confirms_and_welcomes(backend: Backend) {
    let admin = Admin::of_the_county(backend).await;
    let (_, town, village) = units(&admin.app.store).await;
    let (status, page) = admin.get("/admin/staff?org=620122").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<option value=\"\" selected>请选择岗位</option>"),
        "{page}"
    );
    assert!(
        page.contains(&format!("<option value=\"{village}\">")),
        "villages are offered by name"
    );
    assert!(!page.contains("placeholder=\"机构代码\""), "no typed codes");

    let (status, _, page) = admin
        .post(
            "/admin/staff",
            &[
                ("name", "王芳"),
                ("email", "wangfang@example.cn"),
                ("role", ""),
                ("unit", village.as_str()),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        page.contains("<title>提交未成功"),
        "the title says it failed"
    );
    assert!(
        page.contains("id=\"add-role-error\" role=\"alert\">请选择岗位"),
        "{page}"
    );
    assert!(page.contains("aria-invalid=\"true\" aria-describedby=\"add-role-error\""));
    assert!(page.contains("value=\"王芳\"") && page.contains("value=\"wangfang@example.cn\""));
    assert!(
        page.contains(&format!("<option value=\"{village}\" selected>")),
        "the unit chosen is kept"
    );
    assert_eq!(find(&admin.app.store, "wangfang@example.cn").await, None);

    let (status, location, _) = admin
        .post(
            "/admin/staff",
            &[
                ("name", "王芳"),
                ("email", "wangfang@example.cn"),
                ("role", "reviewer"),
                ("unit", village.as_str()),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (status, page) = admin.get(&location).await;
    assert_eq!(status, 200);
    let village_name = admin
        .app
        .store
        .read(move |c| Box::pin(async move { jinguo_store::orgs::get(c, village).await }))
        .await
        .unwrap()
        .unwrap()
        .name;
    assert!(
        page.contains(&format!(
            "已添加王芳（wangfang@example.cn）：审核员 · {village_name}"
        )),
        "{page}"
    );
    let person = find(&admin.app.store, "wangfang@example.cn").await.unwrap();
    let mails = mails_to(&admin.app.store, person, "【巾帼】欢迎加入").await;
    assert_eq!(mails.len(), 1, "one welcome");
    let (subject, text) = &mails[0];
    assert!(subject.contains("审核员"), "{subject}");
    assert!(
        text.contains(&village_name) && text.contains("/signin"),
        "{text}"
    );
    assert!(
        !text.contains("密码：") && !text.contains("620122"),
        "{text}"
    );

    // The no-reviewer mail's link preselects its unit; a unit outside the county is ignored.
    let (_, page) = admin
        .get(&format!("/admin/staff?org=620122&unit={town}"))
        .await;
    assert!(page.contains(&format!("<option value=\"{town}\" selected>")));
    let (_, page) = admin.get("/admin/staff?org=620122&unit=620123").await;
    assert!(page.contains("<option value=\"\" selected>请选择单位</option>"));
}

/// The admin's own card has no button to disable or move them, and a post anyway is refused on
/// their card; others can be disabled after a confirmation and enabled again.
async fn nobody_disables_themselves_and_disabling_can_be_undone(backend: Backend) {
    let admin = Admin::of_the_county(backend).await;
    let other = add_staff(
        &admin.app.store,
        "li@example.cn",
        "李娜",
        "reviewer",
        "620122",
    )
    .await;
    let (_, page) = admin.get("/admin/staff?org=620122").await;
    assert!(!page.contains(&format!("/admin/staff/{}/disable", admin.id)));
    assert!(page.contains(&format!("/admin/staff/{other}/disable")));
    assert!(
        page.contains("aria-label=\"停用：李娜\"")
            && page.contains("aria-label=\"调整岗位：李娜\"")
    );

    let (status, _, page) = admin
        .post(
            &format!("/admin/staff/{}/disable", admin.id),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        page.contains(&format!("id=\"person-{}-error\">不能停用", admin.id)),
        "{page}"
    );
    let me = admin.id;
    assert!(
        admin
            .app
            .store
            .read(move |c| Box::pin(async move { staff::is_active(c, me).await }))
            .await
            .unwrap()
    );

    let (status, _, page) = admin
        .post(&format!("/admin/staff/{other}/disable"), &[])
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("确认停用") && page.contains("启用"));
    let (status, _, _) = admin
        .post(
            &format!("/admin/staff/{other}/disable"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page) = admin.get("/admin/staff?org=620122").await;
    assert!(page.contains("aria-label=\"启用：李娜\"") && page.contains("已停用"));
    let (status, _, _) = admin
        .post(
            &format!("/admin/staff/{other}/enable"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page) = admin.get("/admin/staff?org=620122").await;
    assert!(page.contains("aria-label=\"停用：李娜\""));

    // 调整岗位 on a page of its own: the role starts empty, refused beside it when left so.
    let (status, page) = admin
        .get(&format!("/admin/staff/{other}/reassign?org=620122"))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("调整岗位 · 李娜"));
    let (status, _, page) = admin
        .post(
            &format!("/admin/staff/{other}/reassign"),
            &[("role", ""), ("unit", "620122")],
        )
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("id=\"reassign-role-error\" role=\"alert\">请选择岗位"));
    let (status, _, _) = admin
        .post(
            &format!("/admin/staff/{other}/reassign"),
            &[("role", "viewer"), ("unit", "620122")],
        )
        .await;
    assert_eq!(status, 303);
    let roles = admin
        .app
        .store
        .read(move |c| Box::pin(async move { staff::principal(c, other, jinguo_bus::now()).await }))
        .await
        .unwrap()
        .unwrap()
        .assignments;
    assert_eq!(roles[0].role, Role::Viewer);
}

/// The template downloads as UTF-8 with a BOM and a Chinese header; a file with one bad line is
/// refused by that line and adds nobody; the corrected file adds everyone, each welcomed.
async fn import_from_the_template_is_all_or_nothing(backend: Backend) {
    let admin = Admin::of_the_county(backend).await;
    let (_, town, village) = units(&admin.app.store).await;
    let r = admin
        .client
        .get(format!(
            "{}/admin/staff/template.csv?org=620122",
            admin.app.base_url
        ))
        .header("cookie", &admin.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let template = r.text().await.unwrap();
    assert!(
        template.starts_with("\u{feff}邮箱,姓名,岗位,单位代码"),
        "{template}"
    );
    let header = template.lines().next().unwrap();

    let before = staff_count(&admin.app.store).await;
    let bad = format!(
        "{header}\nzhao@example.cn,赵敏,审核员,{village},,\nqian@example.cn,钱丽,校长,{town},,\n"
    );
    let (status, _, page) = admin.post("/admin/staff/import", &[("csv", &bad)]).await;
    assert_eq!(status, 400);
    assert!(page.contains("第 3 行，岗位：岗位应为"), "{page}");
    assert!(page.contains("id=\"import-csv-error\" role=\"alert\""));
    assert!(page.contains("钱丽,校长"), "the pasted text is kept");
    assert_eq!(staff_count(&admin.app.store).await, before, "nothing added");

    let outside = format!("{header}\nsun@example.cn,孙悦,审核员,620123,,\n");
    let (status, _, page) = admin
        .post("/admin/staff/import", &[("csv", &outside)])
        .await;
    assert_eq!(status, 400);
    assert!(
        page.contains("第 2 行，单位代码：该单位不在您管理的范围内"),
        "{page}"
    );

    let good = format!(
        "{header}\nzhao@example.cn,赵敏,审核员,{village},,\nqian@example.cn,钱丽,查看者,{town},,13800138000\n"
    );
    let (status, location, _) = admin.post("/admin/staff/import", &[("csv", &good)]).await;
    assert_eq!(status, 303);
    let (_, page) = admin.get(&location).await;
    assert!(page.contains("新增人员 2 名"), "{page}");
    assert_eq!(staff_count(&admin.app.store).await, before + 2);
    for email in ["zhao@example.cn", "qian@example.cn"] {
        let person = find(&admin.app.store, email).await.unwrap();
        assert_eq!(
            mails_to(&admin.app.store, person, "【巾帼】欢迎加入")
                .await
                .len(),
            1,
            "{email} is welcomed"
        );
    }
}

/// `POST /api/v1/staff` welcomes the same way as the page.
async fn the_api_welcomes_the_same_way(backend: Backend) {
    let admin = Admin::of_the_county(backend).await;
    let token = jinguo_tests::api_token(&admin.app.store, admin.id).await;
    let r = admin
        .client
        .post(format!("{}/api/v1/staff", admin.app.base_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "email": "zhou@example.cn", "name": "周琳", "role": "viewer", "org": "620122"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let person = find(&admin.app.store, "zhou@example.cn").await.unwrap();
    let mails = mails_to(&admin.app.store, person, "【巾帼】欢迎加入").await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].1.contains("查看者"));
}

/// A village without a reviewer: 100 nominations stall there and its county admin gets one
/// notice, not 100. She appoints a reviewer on the staff page as the notice asks; every stalled
/// nomination moves on at once — a task, a link and a mail each for the new reviewer, the step
/// in its history — and none shows as stalled any more.
async fn appointing_a_reviewer_moves_a_stalled_village_on(backend: Backend) {
    let admin = Admin::of_the_county(backend).await;
    let store = admin.app.store.clone();
    let (_, _, village) = units(&store).await;
    let token = jinguo_tests::api_token(&store, admin.id).await;
    let campaign = jinguo_tests::nominating::campaign(&admin.app, &token, "停滞测试").await;
    let mut bus = jinguo_tests::nominating::nominations_bus(&admin.app);
    let mut nominations = Vec::new();
    for i in 0..100 {
        let created = admin
            .app
            .client
            .post(format!("{}/api/v1/nominations", admin.app.base_url))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "campaign_id": campaign, "village": village.as_str(), "category": "最美家庭",
                "channel": "organization",
                "family": { "head_name": format!("李{i}"), "head_id": format!("139{i:08}"),
                            "address": "皋兰县某村", "members": [] },
                "story": "李秀英一家孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，带动乡邻共同建设美丽庭院，是远近闻名的好家庭。"
            }))
            .send()
            .await
            .unwrap();
        let status = created.status();
        let body: serde_json::Value = created.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        nominations.push(body["id"].as_str().unwrap().parse::<Uuid>().unwrap());
    }
    let notices = |store: Store| async move {
        mails_to(&store, admin_id(&store).await, "【巾帼】")
            .await
            .into_iter()
            .filter(|(subject, _)| subject.contains("无在岗审核员"))
            .count()
    };
    assert_eq!(
        notices(store.clone()).await,
        1,
        "one notice for the village"
    );
    let stalled = format!("/api/v1/campaigns/{campaign}/nominations?stalled=1&limit=200");
    let listed = stalled_count(&admin, &token, &stalled).await;
    assert_eq!(listed, 100);

    let (status, _, _) = admin
        .post(
            "/admin/staff",
            &[
                ("name", "新审核员"),
                ("email", "newreviewer@example.cn"),
                ("role", "reviewer"),
                ("unit", village.as_str()),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let reviewer = find(&store, "newreviewer@example.cn").await.unwrap();
    let mailed = jinguo_tests::eventually(
        "a review mail for each stalled nomination",
        std::time::Duration::from_secs(60),
        || {
            let store = store.clone();
            async move {
                let m =
                    jinguo_tests::nominating::links_mailed_to(&store, reviewer, "【巾帼】请审核")
                        .await;
                (m.len() >= 100).then_some(m)
            }
        },
    )
    .await;
    assert_eq!(mailed.len(), 100, "one mail each");
    for n in &nominations {
        let n = *n;
        let (tasks, history) = store
            .read(move |c| {
                Box::pin(async move {
                    let tasks = jinguo_store::nominations::tasks(c, n, "village").await?;
                    let history = jinguo_store::nominations::history(c, n).await?;
                    Ok::<_, jinguo_store::StoreError>((tasks, history))
                })
            })
            .await
            .unwrap();
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].reviewer, reviewer);
        assert!(!tasks[0].closed);
        let events: Vec<&str> = history.iter().map(|h| h.event.as_str()).collect();
        assert_eq!(events, ["submitted", "no_reviewer", "reviewer_appointed"]);
    }
    assert_eq!(stalled_count(&admin, &token, &stalled).await, 0);
    assert_eq!(notices(store.clone()).await, 1, "and no second notice");
    bus.stop().await;
}

async fn admin_id(store: &Store) -> Uuid {
    find(store, "admin@example.cn").await.unwrap()
}

async fn stalled_count(admin: &Admin, token: &str, path: &str) -> usize {
    let (status, listed) = admin.app.get_json_as(path, token).await;
    assert_eq!(status, 200, "{listed}");
    listed["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("{listed}")) as usize
}

jinguo_tests::on_both_backends!(
    appointing_a_reviewer_moves_a_stalled_village_on,
    adding_with_the_lists_confirms_and_welcomes,
    nobody_disables_themselves_and_disabling_can_be_undone,
    import_from_the_template_is_all_or_nothing,
    the_api_welcomes_the_same_way,
);
