//! The rules an outside review found not holding everywhere, walked through every entry point:
//! a disabled person can do nothing, one household has one identity, the incident flag is no
//! oracle, permissions per action and no self-granting, bounded campaign rules and text.

use jinguo_core::org::OrgCode;
use jinguo_store::Store;
use jinguo_tests::nominating::{csrf_of, links_mailed_to, mails_to, units};
use jinguo_tests::{Backend, TestApp, add_staff, api_token, session};
use serde_json::{Value, json};
use uuid::Uuid;

/// Valid ID numbers (GB 11643 check digits) of households that never met before each test.
const ID_1: &str = "620122198001011234";
const ID_2: &str = "620122198502023452";
const ID_3: &str = "620122197703035674";
const ID_4: &str = "620122199005051238";
const ID_5: &str = "62012219800101104X";
const PHONE: &str = "13912345678";
const STORY: &str = "李秀英一家孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，带动乡邻共同建设美丽庭院，是远近闻名的好家庭。";
/// What no page or mail outside the county case officers may say.
const TELLING: [&str; 7] = [
    "家暴",
    "暴力",
    "反家暴",
    "violence",
    "incident",
    "referral",
    "事件",
];

struct World {
    app: TestApp,
    county: OrgCode,
    village: OrgCode,
    admin: Uuid,
    admin_token: String,
    reviewer: Uuid,
    campaign: String,
}

/// 皋兰县 with a county admin, one village reviewer and a campaign without quotas.
async fn world(backend: Backend) -> World {
    let app = TestApp::spawn(backend).await;
    let (county, _, village) = units(&app.store).await;
    let admin = add_staff(
        &app.store,
        "admin@example.cn",
        "县妇联管理员",
        "admin",
        county.as_str(),
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
    let admin_token = api_token(&app.store, admin).await;
    let campaign =
        jinguo_tests::nominating::campaign(&app, &admin_token, "2026年皋兰县最美家庭评选").await;
    World {
        app,
        county,
        village,
        admin,
        admin_token,
        reviewer,
        campaign,
    }
}

fn submission(w: &World, head_id: &str) -> Value {
    json!({
        "campaign_id": w.campaign, "village": w.village.as_str(), "category": "最美家庭", "channel": "organization",
        "family": { "head_name": "李秀英", "head_id": head_id, "address": "皋兰县某村", "members": [] },
        "story": STORY
    })
}

async fn post_json(w: &World, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let r = w
        .app
        .client
        .post(format!("{}{path}", w.app.base_url))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn submit(w: &World, token: &str, body: &Value) -> (u16, Value) {
    post_json(w, "/api/v1/nominations", token, body).await
}

async fn get_json(w: &World, path: &str, token: &str) -> (u16, Value) {
    let r = w
        .app
        .client
        .get(format!("{}{path}", w.app.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn open_tasks(store: &Store, nomination: Uuid) -> Vec<jinguo_store::nominations::Task> {
    store
        .read(move |c| {
            Box::pin(
                async move { jinguo_store::nominations::tasks(c, nomination, "village").await },
            )
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|t| !t.closed)
        .collect()
}

async fn history(store: &Store, nomination: Uuid) -> Vec<jinguo_store::nominations::Step> {
    store
        .read(move |c| Box::pin(jinguo_store::nominations::history(c, nomination)))
        .await
        .unwrap()
}

async fn flag_household_of(store: &Store, nomination: Uuid) {
    store
        .transaction(move |c| {
            Box::pin(async move {
                let n = jinguo_store::nominations::get(c, nomination)
                    .await?
                    .unwrap();
                jinguo_store::nominations::set_incident_flag(c, n.household_id, true).await
            })
        })
        .await
        .unwrap();
}

fn id_of(v: &Value) -> Uuid {
    v["id"].as_str().unwrap().parse().unwrap()
}

/// The form field a link's POST carries (derived from its token, as the page renders it).
fn link_csrf(link: &str) -> String {
    let token = link.rsplit('/').next().unwrap();
    jinguo_auth::hash(format!("csrf:{token}").as_bytes())
}

// --- 1. a disabled person can do nothing ------------------------------------------------------

async fn a_disabled_reviewer_is_refused_at_every_entry_point(backend: Backend) {
    let w = world(backend).await;
    let (status, created) = submit(&w, &w.admin_token, &submission(&w, ID_1)).await;
    assert_eq!(status, 201);
    let nomination = id_of(&created);
    let store = &w.app.store;
    // Everything the reviewer holds before being disabled.
    let token = api_token(store, w.reviewer).await;
    let (cookie, csrf) = session(store, w.reviewer).await;
    let review_link = links_mailed_to(store, w.reviewer, "【巾帼】请审核").await[0].clone();
    let signed = w
        .app
        .client
        .post(format!("{}/signin", w.app.base_url))
        .form(&[("email", "v@example.cn")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    // The sign-in mail is written after the answer (the same time for unknown addresses).
    let sign_in_link = jinguo_tests::eventually(
        "the sign-in mail",
        std::time::Duration::from_secs(10),
        || async {
            links_mailed_to(store, w.reviewer, "【巾帼】登录")
                .await
                .first()
                .cloned()
        },
    )
    .await;
    let task = open_tasks(store, nomination).await[0].id;
    let before = history(store, nomination).await.len();

    // The county admin disables them on the staff page: a confirmation first, then the act.
    let (admin_cookie, admin_csrf) = session(store, w.admin).await;
    let page = |confirm: bool| {
        let mut form = vec![("csrf", admin_csrf.clone()), ("org", w.county.to_string())];
        if confirm {
            form.push(("confirm", "yes".into()));
        }
        no_redirects()
            .post(format!(
                "{}/admin/staff/{}/disable",
                w.app.base_url, w.reviewer
            ))
            .header("Cookie", &admin_cookie)
            .form(&form)
            .send()
    };
    let asked = page(false).await.unwrap();
    assert_eq!(asked.status(), 200);
    assert!(asked.text().await.unwrap().contains("确认停用"));
    let still: bool = store
        .read(|c| Box::pin(async move { jinguo_store::staff::is_active(c, w.reviewer).await }))
        .await
        .unwrap();
    assert!(still, "the confirmation page changes nothing");
    assert_eq!(page(true).await.unwrap().status(), 303);

    // 1. API with the old bearer token.
    let (status, _) = post_json(
        &w,
        &format!("/api/v1/reviews/{task}/decision"),
        &token,
        &json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!(status, 401);
    // 2. The task page with the old session.
    let client = no_redirects();
    let shown = client
        .get(format!("{}/tasks/{task}", w.app.base_url))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), 303, "the session is gone: back to sign-in");
    let decided = client
        .post(format!("{}/tasks/{task}", w.app.base_url))
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), 303);
    // 3. The emailed review link.
    let url = format!("{}{review_link}", w.app.base_url);
    let shown = client.get(&url).send().await.unwrap();
    assert_eq!(shown.status(), 410);
    assert!(shown.text().await.unwrap().contains("链接已失效"));
    let used = client
        .post(&url)
        .form(&[
            ("csrf", link_csrf(&review_link).as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 410);
    // 4. The sign-in link issued before.
    let signed_in = client
        .post(format!("{}{sign_in_link}", w.app.base_url))
        .form(&[("csrf", link_csrf(&sign_in_link).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 410);
    assert!(signed_in.headers().get("set-cookie").is_none());

    // Nothing changed.
    let (_, shown) = get_json(
        &w,
        &format!("/api/v1/nominations/{nomination}"),
        &w.admin_token,
    )
    .await;
    assert_eq!(shown["state"], "village_review");
    assert_eq!(history(store, nomination).await.len(), before);
}

async fn a_person_disabled_behind_our_back_is_refused_at_the_moment_of_use(backend: Backend) {
    let w = world(backend).await;
    let (_, created) = submit(&w, &w.admin_token, &submission(&w, ID_2)).await;
    let nomination = id_of(&created);
    let store = &w.app.store;
    let token = api_token(store, w.reviewer).await;
    let (cookie, _) = session(store, w.reviewer).await;
    let review_link = links_mailed_to(store, w.reviewer, "【巾帼】请审核").await[0].clone();
    // Only the flag, as a database restore or an old code path might leave it: no revocation.
    let reviewer = w.reviewer;
    store
        .transaction(move |c| {
            Box::pin(async move { jinguo_store::staff::set_active(c, reviewer, false).await })
        })
        .await
        .unwrap();
    let (status, _) = get_json(&w, "/api/v1/me", &token).await;
    assert_eq!(status, 401);
    let task = open_tasks(store, nomination).await[0].id;
    let shown = no_redirects()
        .get(format!("{}/tasks/{task}", w.app.base_url))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), 303);
    let used = no_redirects()
        .post(format!("{}{review_link}", w.app.base_url))
        .form(&[
            ("csrf", link_csrf(&review_link).as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 410);
    let (_, shown) = get_json(
        &w,
        &format!("/api/v1/nominations/{nomination}"),
        &w.admin_token,
    )
    .await;
    assert_eq!(shown["state"], "village_review");
}

async fn disabling_hands_open_tasks_to_the_other_reviewers(backend: Backend) {
    let w = world(backend).await;
    let (_, created) = submit(&w, &w.admin_token, &submission(&w, ID_3)).await;
    let nomination = id_of(&created);
    let store = w.app.store.clone();
    // Appointed after the level opened: no task yet.
    let newcomer = add_staff(
        &store,
        "v2@example.cn",
        "新审核员",
        "reviewer",
        w.village.as_str(),
    )
    .await;
    let mut bus = jinguo_tests::nominating::nominations_bus(&w.app);
    let set_active = |person: Uuid, active: bool| {
        let store = store.clone();
        async move {
            store
                .transaction(move |c| {
                    Box::pin(async move {
                        jinguo_auth::staff::set_active(c, person, active, "test", jinguo_bus::now())
                            .await
                    })
                })
                .await
                .unwrap()
        }
    };
    let disable = |person: Uuid| set_active(person, false);
    // Waits until the newcomer alone holds an open task at the village.
    let newcomer_has_the_task = |what: &'static str| {
        let store = store.clone();
        jinguo_tests::eventually(what, std::time::Duration::from_secs(20), move || {
            let store = store.clone();
            async move {
                let open = open_tasks(&store, nomination).await;
                (open.len() == 1 && open[0].reviewer == newcomer).then_some(())
            }
        })
    };
    assert!(disable(w.reviewer).await);
    newcomer_has_the_task("the newcomer gets the task").await;
    assert_eq!(
        links_mailed_to(&store, newcomer, "【巾帼】请审核")
            .await
            .len(),
        1,
        "the newcomer is mailed once"
    );
    // The last reviewer goes too: the level is flagged, as when it opens without one.
    assert!(disable(newcomer).await);
    jinguo_tests::eventually(
        "the level is flagged",
        std::time::Duration::from_secs(20),
        || {
            let store = store.clone();
            async move {
                let h = history(&store, nomination).await;
                (h.last().map(|s| s.event.as_str()) == Some("no_reviewer")).then_some(())
            }
        },
    )
    .await;
    assert!(open_tasks(&store, nomination).await.is_empty());
    // Enabled again, the newcomer takes up the stalled level: a task, a new mail, the step in
    // the history.
    assert!(set_active(newcomer, true).await);
    newcomer_has_the_task("the level moves again").await;
    let h = history(&store, nomination).await;
    assert_eq!(
        h.last().map(|s| s.event.as_str()),
        Some("reviewer_appointed")
    );
    assert_eq!(
        links_mailed_to(&store, newcomer, "【巾帼】请审核")
            .await
            .len(),
        2,
        "mailed again for the level it takes up"
    );
    bus.stop().await;
}

async fn enabling_and_disabling_ask_for_confirmation_on_the_command_line(backend: Backend) {
    let db = jinguo_tests::TestDb::new(backend, jinguo_tests::Contents::Gansu).await;
    let store = db.store().await;
    add_staff(&store, "v@example.cn", "村审核员", "reviewer", "620122").await;
    let dir = tempfile::tempdir().unwrap();
    let url = db.url();
    let env = [("JINGUO_DATABASE__URL", url.as_str())];
    let run = |args: &[&str]| jinguo_tests::run_jinguo(dir.path(), args, &env);
    let active = || {
        let store = store.clone();
        async move {
            store
                .read(|c| {
                    Box::pin(
                        async move { jinguo_store::staff::find_by_email(c, "v@example.cn").await },
                    )
                })
                .await
                .unwrap()
                .unwrap()
                .1
        }
    };
    let asked = run(&["user", "disable", "--email", "v@example.cn"]);
    assert!(!asked.status.success());
    let err = String::from_utf8_lossy(&asked.stderr);
    assert!(err.contains("--yes"), "{err}");
    assert!(active().await, "not confirmed: nothing changed");
    assert!(
        run(&["user", "disable", "--email", "v@example.cn", "--yes"])
            .status
            .success()
    );
    assert!(!active().await);
    let token = run(&["token", "create", "--email", "v@example.cn"]);
    assert!(!token.status.success(), "no token for a disabled person");
    let asked = run(&["user", "enable", "--email", "v@example.cn"]);
    assert!(!asked.status.success());
    assert!(!active().await);
    let enabled = run(&["user", "enable", "--email", "v@example.cn", "--yes"]);
    assert!(enabled.status.success(), "{enabled:?}");
    assert!(active().await);
}

// --- 2. one household, one identity -----------------------------------------------------------

async fn one_household_however_its_number_is_typed(backend: Backend) {
    let w = world(backend).await;
    let (status, _) = submit(&w, &w.admin_token, &submission(&w, ID_5)).await;
    assert_eq!(status, 201);
    for typed in [
        "62012219800101104x",
        "620122\u{200b}19800101104X",
        "620122\u{2060}19800101\u{ad}104X",
        "６２０１２２１９８００１０１１０４Ｘ",
        "620122 19800101 104X.",
        "\u{feff}62012219800101104X\u{3000}",
    ] {
        let (status, answer) = submit(&w, &w.admin_token, &submission(&w, typed)).await;
        assert_eq!(status, 422, "{typed:?}: {answer}");
        assert_eq!(answer["error"]["code"], "open_nomination", "{typed:?}");
    }
    // A wrong check digit is refused beside the field, in Chinese.
    let (status, answer) = submit(&w, &w.admin_token, &submission(&w, "620122198001011235")).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["field"], "family.head_id");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("校验"),
        "{answer}"
    );
    // The public form keeps the same rule, beside the field, keeping what was typed.
    let page = w
        .app
        .client
        .post(format!("{}/nominate/{}", w.app.base_url, w.campaign))
        .form(&[
            ("village", w.village.as_str()),
            ("category", "最美家庭"),
            ("head_name", "张梅"),
            ("head_id", "620122198001011235"),
            ("address", "皋兰县某村"),
            ("phone", "13900001111"),
            ("story", STORY),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    let page = page.text().await.unwrap();
    assert!(page.contains("id=\"head_id-error\""), "{page}");
    assert!(page.contains("校验"), "{page}");
    assert!(page.contains("张梅"), "what was typed is kept");
    // Known by its ID number and its phone: the phone alone finds it.
    let mut both = submission(&w, ID_4);
    both["family"]["phone"] = json!(PHONE);
    let (status, created) = submit(&w, &w.admin_token, &both).await;
    assert_eq!(status, 201);
    let (status, answer) = submit(&w, &w.admin_token, &submission(&w, "+86 139-1234-5678")).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "open_nomination");

    // The reviewer's page shows the phone to call, and the ID number only masked.
    let link = links_mailed_to(&w.app.store, w.reviewer, "【巾帼】请审核").await;
    assert_eq!(link.len(), 2);
    let page = w
        .app
        .client
        .get(format!("{}{}", w.app.base_url, link[0]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(PHONE), "{page}");
    assert!(page.contains("6201**********1238"), "{page}");
    assert!(!page.contains(ID_4));
    let _ = created;

    // Nowhere in the database: not the ID numbers, not the phone in plain.
    let everything = w.app.db.all_text().await;
    for secret in [ID_5, ID_4, PHONE, "19800101104", "19900505123"] {
        assert!(!everything.contains(secret), "{secret} is stored in plain");
    }
}

/// What nominations stored before this release kept in plain text is scrubbed by migration 10:
/// run here on an old-style row (the migration's own SQL, on each backend).
async fn nominations_stored_before_lose_their_plain_identities(backend: Backend) {
    let w = world(backend).await;
    let (_, created) = submit(&w, &w.admin_token, &submission(&w, ID_1)).await;
    let id = id_of(&created);
    let old_style = format!(
        r#"{{"head_name":"李秀英","head_id":"{ID_1}","address":"皋兰县某村","phone":"{PHONE}","members":[]}}"#
    );
    w.app
        .db
        .execute(&format!(
            "UPDATE nominations SET family = '{old_style}' WHERE id = '{id}'"
        ))
        .await;
    let migration = match backend {
        Backend::Postgres => {
            include_str!("../../migrations/postgres/2026-12-01-000010_scrub_family/up.sql")
        }
        Backend::Sqlite => {
            include_str!("../../migrations/sqlite/2026-12-01-000010_scrub_family/up.sql")
        }
    };
    w.app.db.execute(migration).await;
    let n = w
        .app
        .store
        .read(move |c| Box::pin(jinguo_store::nominations::get(c, id)))
        .await
        .unwrap()
        .unwrap();
    let family = jinguo_nominations::family_of(&n);
    assert!(
        !n.family.contains(ID_1) && !n.family.contains(PHONE),
        "{}",
        n.family
    );
    assert_eq!(family.head_name, "李秀英");
    assert_eq!(family.head_key_masked, "6201**********1234");
    assert_eq!(family.phone_masked.as_deref(), Some("139****5678"));
}

// --- 3. the incident flag is no oracle --------------------------------------------------------

/// The answer with every UUID replaced, so two answers can be compared.
fn without_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let candidate = rest.get(..36).filter(|s| s.parse::<Uuid>().is_ok());
        // A readable reference (`620122-2026-0042`): the next number, whoever submits.
        let reference = rest.get(..16).filter(|s| {
            s.bytes().enumerate().all(|(i, b)| {
                if i == 6 || i == 11 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            })
        });
        if let Some(id) = candidate {
            out.push_str("<id>");
            rest = &rest[id.len()..];
        } else if let Some(r) = reference {
            out.push_str("<reference>");
            rest = &rest[r.len()..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

async fn a_flagged_household_is_accepted_exactly_like_any_other(backend: Backend) {
    let w = world(backend).await;
    let store = &w.app.store;
    let officer = add_staff(
        store,
        "officer@example.cn",
        "个案专员",
        "case_officer",
        "620122",
    )
    .await;
    let officer_token = api_token(store, officer).await;
    // Four households known from earlier (withdrawn) nominations; two get flagged.
    let mut known = Vec::new();
    for id in [ID_1, ID_2, ID_3, ID_4] {
        let (_, created) = submit(&w, &w.admin_token, &submission(&w, id)).await;
        let n = id_of(&created);
        let (status, _) = post_json(
            &w,
            &format!("/api/v1/nominations/{n}/withdraw"),
            &w.admin_token,
            &json!({}),
        )
        .await;
        assert_eq!(status, 200);
        known.push(n);
    }
    flag_household_of(store, known[0]).await;
    flag_household_of(store, known[2]).await;
    let mails_before = mails_to(store, w.admin, "").await.len();

    // The API: the same status and the same answer.
    let (flagged_status, flagged) = submit(&w, &w.admin_token, &submission(&w, ID_1)).await;
    let (plain_status, plain) = submit(&w, &w.admin_token, &submission(&w, ID_2)).await;
    assert_eq!((flagged_status, plain_status), (201, 201));
    assert_eq!(
        without_ids(&flagged.to_string()),
        without_ids(&plain.to_string())
    );
    let held = id_of(&flagged);

    // The public form: the same status and the same page.
    // The public form needs a phone: each family its own.
    let form = |head_id: &'static str, phone: &'static str| {
        let w = &w;
        async move {
            let r = w
                .app
                .client
                .post(format!("{}/nominate/{}", w.app.base_url, w.campaign))
                .form(&[
                    ("village", w.village.as_str()),
                    ("category", "最美家庭"),
                    ("head_name", "张梅"),
                    ("head_id", head_id),
                    ("address", "皋兰县某村"),
                    ("phone", phone),
                    ("story", STORY),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (form_flagged_status, form_flagged) = form(ID_3, "13900003333").await;
    let (form_plain_status, form_plain) = form(ID_4, "13900004444").await;
    assert_eq!(form_flagged_status, form_plain_status);
    assert!(form_flagged_status < 300, "{form_flagged}");
    assert_eq!(without_ids(&form_flagged), without_ids(&form_plain));
    for text in [&form_flagged, &flagged.to_string()] {
        for word in TELLING {
            assert!(!text.contains(word), "{word} in {text}");
        }
    }
    // No mail to the submitter either way; no mail to anyone but the officer tells.
    assert_eq!(mails_to(store, w.admin, "").await.len(), mails_before);
    let mails = store
        .read(|c| Box::pin(jinguo_store::mail::recent(c, 500)))
        .await
        .unwrap();
    for m in &mails {
        for word in TELLING {
            assert!(
                !m.subject.contains(word) && !m.text_body.contains(word),
                "{word} in a mail: {}",
                m.subject
            );
        }
    }

    // Everyone else sees village review; the officer sees the hold.
    let (_, shown) = get_json(&w, &format!("/api/v1/nominations/{held}"), &w.admin_token).await;
    assert_eq!(shown["state"], "village_review");
    assert!(!shown.to_string().contains("eligibility"), "{shown}");
    let list_path = format!("/api/v1/campaigns/{}/nominations", w.campaign);
    let (_, listed) = get_json(&w, &list_path, &w.admin_token).await;
    assert!(!listed.to_string().contains("eligibility"), "{listed}");
    let (_, as_officer) =
        get_json(&w, &format!("/api/v1/nominations/{held}"), &officer_token).await;
    assert_eq!(as_officer["state"], "eligibility_review");
    assert!(
        open_tasks(store, held).await.is_empty(),
        "no village reviewer is asked"
    );

    // The officers are mailed a link that names neither family nor reason.
    let officer_links = links_mailed_to(store, officer, "【巾帼】").await;
    assert_eq!(officer_links.len(), 2, "one per held nomination");
    for (_, text) in mails_to(store, officer, "【巾帼】").await {
        assert!(!text.contains("张梅") && !text.contains("李秀英"), "{text}");
    }
    // Officer decides: the first (the form's, newest first) is closed, the API's continues.
    let decide = |link: String, fields: Vec<(&'static str, String)>| {
        let w = &w;
        async move {
            let url = format!("{}{link}", w.app.base_url);
            let page = w
                .app
                .client
                .get(&url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(page.contains("资格核查"), "{page}");
            let mut form = vec![("csrf", csrf_of(&page))];
            form.extend(fields);
            w.app
                .client
                .post(&url)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let closed = decide(
        officer_links[0].clone(),
        vec![
            ("decision", "close".into()),
            ("reason", jinguo_nominations::CLOSE_REASONS[1].into()),
        ],
    )
    .await;
    assert_eq!(closed, 200);
    let continued = decide(
        officer_links[1].clone(),
        vec![("decision", "continue".into())],
    )
    .await;
    assert_eq!(continued, 200);
    let (_, shown) = get_json(&w, &format!("/api/v1/nominations/{held}"), &w.admin_token).await;
    assert_eq!(shown["state"], "village_review");
    assert_eq!(
        open_tasks(store, held).await.len(),
        1,
        "now the reviewer is asked"
    );
    let (_, listed) = get_json(&w, &format!("{list_path}?state=rejected"), &w.admin_token).await;
    let rejected = listed["nominations"].as_array().unwrap();
    assert_eq!(rejected.len(), 1);
    let rejected_id = rejected[0]["id"].as_str().unwrap();
    let (_, shown) = get_json(
        &w,
        &format!("/api/v1/nominations/{rejected_id}"),
        &w.admin_token,
    )
    .await;
    let last = shown["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "village_reject", "an ordinary rejection");
    assert_eq!(last["actor"], officer.to_string());
    assert_eq!(last["reason"], jinguo_nominations::CLOSE_REASONS[1]);

    // A refused check is audited too (the refused transaction rolled back; the audit did not).
    let (status, _) = submit(&w, &w.admin_token, &submission(&w, ID_2)).await;
    assert_eq!(status, 422);
    let audit = store
        .read(|c| Box::pin(jinguo_store::audit::page(c, 0, 10_000)))
        .await
        .unwrap();
    let refused = audit
        .iter()
        .filter(|e| e.action == "nomination.eligibility_checked" && e.details.contains("refused"))
        .count();
    assert_eq!(refused, 1);
    assert!(audit.iter().all(|e| !e.details.contains("李秀英")));
}

/// Everything a held nomination shows, beyond its state, matches an ordinary one: a refusal of
/// an impossible step, and a village without a reviewer (stalled, the admins mailed).
async fn a_held_nomination_refuses_and_stalls_like_any_other(backend: Backend) {
    let w = world(backend).await;
    let store = &w.app.store;
    add_staff(
        store,
        "officer@example.cn",
        "个案专员",
        "case_officer",
        "620122",
    )
    .await;
    let (_, _, villages) = jinguo_tests::nominating::villages(store).await;
    let empty_village = villages[1];
    let mut known = Vec::new();
    for id in [ID_1, ID_2] {
        let mut body = submission(&w, id);
        body["village"] = json!(empty_village.as_str());
        let (_, created) = submit(&w, &w.admin_token, &body).await;
        let n = id_of(&created);
        post_json(
            &w,
            &format!("/api/v1/nominations/{n}/withdraw"),
            &w.admin_token,
            &json!({}),
        )
        .await;
        known.push(n);
    }
    flag_household_of(store, known[0]).await;
    let notices_before = mails_to(store, w.admin, "【巾帼】").await.len();
    let mut shown = Vec::new();
    for id in [ID_1, ID_2] {
        let mut body = submission(&w, id);
        body["village"] = json!(empty_village.as_str());
        let (status, created) = submit(&w, &w.admin_token, &body).await;
        assert_eq!(status, 201);
        let n = id_of(&created);
        let (status, refused) = post_json(
            &w,
            &format!("/api/v1/nominations/{n}/resubmit"),
            &w.admin_token,
            &json!({}),
        )
        .await;
        assert_eq!(status, 409);
        shown.push(refused["error"]["message"].as_str().unwrap().to_owned());
    }
    assert_eq!(shown[0], shown[1], "the same refusal, held or not");
    assert!(!shown[0].contains("eligibility"), "{}", shown[0]);
    let list_path = format!(
        "/api/v1/campaigns/{}/nominations?org={}",
        w.campaign, empty_village
    );
    let (_, listed) = get_json(&w, &list_path, &w.admin_token).await;
    let open: Vec<&Value> = listed["nominations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["state"] == "village_review")
        .collect();
    assert_eq!(open.len(), 2);
    assert!(open.iter().all(|n| n["stalled"] == true), "{listed}");
    assert_eq!(
        mails_to(store, w.admin, "【巾帼】").await.len(),
        notices_before + 1,
        "the admin is told once per unit, by the first to stall there: here the held one"
    );
}

/// A reviewer moved to another role keeps nothing of the old one: the old link shows no
/// family and decides nothing; an admin cannot disable or enable a case officer.
async fn a_reviewer_moved_away_neither_sees_nor_decides(backend: Backend) {
    let w = world(backend).await;
    let store = &w.app.store;
    let mut body = submission(&w, ID_4);
    body["family"]["phone"] = json!(PHONE);
    let (_, created) = submit(&w, &w.admin_token, &body).await;
    let nomination = id_of(&created);
    let link = links_mailed_to(store, w.reviewer, "【巾帼】请审核").await[0].clone();
    let (cookie, csrf) = session(store, w.admin).await;
    let reassigned = no_redirects()
        .post(format!(
            "{}/admin/staff/{}/reassign",
            w.app.base_url, w.reviewer
        ))
        .header("Cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("org", w.county.as_str()),
            ("role", "viewer"),
            ("unit", w.county.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(reassigned.status(), 303);
    let url = format!("{}{link}", w.app.base_url);
    let page = w.app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 409);
    let page = page.text().await.unwrap();
    assert!(!page.contains(PHONE) && !page.contains("李秀英"), "{page}");
    let decided = w
        .app
        .client
        .post(&url)
        .form(&[("csrf", link_csrf(&link).as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), 409);
    let (_, shown) = get_json(
        &w,
        &format!("/api/v1/nominations/{nomination}"),
        &w.admin_token,
    )
    .await;
    assert_eq!(shown["state"], "village_review");

    let officer = add_staff(
        store,
        "officer@example.cn",
        "个案专员",
        "case_officer",
        "620122",
    )
    .await;
    for what in ["disable", "enable"] {
        let refused = no_redirects()
            .post(format!("{}/admin/staff/{officer}/{what}", w.app.base_url))
            .header("Cookie", &cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("org", w.county.as_str()),
                ("confirm", "yes"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            refused.status(),
            403,
            "{what}: only a supervisor manages a case officer"
        );
    }
}

/// A held nomination whose case officer is disabled is offered to the county's other officers.
async fn a_disabled_case_officers_holds_pass_to_another(backend: Backend) {
    let w = world(backend).await;
    let store = w.app.store.clone();
    let first = add_staff(
        &store,
        "officer@example.cn",
        "个案专员",
        "case_officer",
        "620122",
    )
    .await;
    let (_, created) = submit(&w, &w.admin_token, &submission(&w, ID_3)).await;
    let n = id_of(&created);
    post_json(
        &w,
        &format!("/api/v1/nominations/{n}/withdraw"),
        &w.admin_token,
        &json!({}),
    )
    .await;
    flag_household_of(&store, n).await;
    let (status, _) = submit(&w, &w.admin_token, &submission(&w, ID_3)).await;
    assert_eq!(status, 201);
    assert_eq!(links_mailed_to(&store, first, "【巾帼】").await.len(), 1);
    let second = add_staff(
        &store,
        "officer2@example.cn",
        "个案专员二",
        "case_officer",
        "620122",
    )
    .await;
    let mut bus = jinguo_tests::nominating::nominations_bus(&w.app);
    store
        .transaction(move |c| {
            Box::pin(async move {
                jinguo_auth::staff::set_active(c, first, false, "test", jinguo_bus::now()).await
            })
        })
        .await
        .unwrap();
    jinguo_tests::eventually(
        "the other officer is asked",
        std::time::Duration::from_secs(20),
        || {
            let store = store.clone();
            async move {
                (links_mailed_to(&store, second, "【巾帼】").await.len() == 1).then_some(())
            }
        },
    )
    .await;
    bus.stop().await;
}

/// The officers' decision by API keeps the link's rule: only a county case officer decides, and
/// anyone else is refused without being told what the nomination is.
async fn only_case_officers_decide_a_hold_through_the_api(backend: Backend) {
    let w = world(backend).await;
    let store = &w.app.store;
    let officer = add_staff(
        store,
        "officer@example.cn",
        "个案专员",
        "case_officer",
        "620122",
    )
    .await;
    let officer_token = api_token(store, officer).await;
    let (_, created) = submit(&w, &w.admin_token, &submission(&w, ID_2)).await;
    let first = id_of(&created);
    post_json(
        &w,
        &format!("/api/v1/nominations/{first}/withdraw"),
        &w.admin_token,
        &json!({}),
    )
    .await;
    flag_household_of(store, first).await;
    let (_, created) = submit(&w, &w.admin_token, &submission(&w, ID_2)).await;
    let held = id_of(&created);
    let path = format!("/api/v1/nominations/{held}/eligibility");
    let (status, _) = post_json(
        &w,
        &path,
        &w.admin_token,
        &json!({ "decision": "continue" }),
    )
    .await;
    assert_eq!(status, 403, "an admin decides nothing here");
    let (status, refused) = post_json(
        &w,
        &path,
        &officer_token,
        &json!({ "decision": "close", "reason": "不是列出的理由" }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["field"], "reason");
    let (status, decided) = post_json(
        &w,
        &path,
        &officer_token,
        &json!({ "decision": "continue" }),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["state"], "village_review");
    assert_eq!(
        open_tasks(store, held).await.len(),
        1,
        "the reviewer is asked now"
    );
}

/// The admin page keeps the granting rule of the API: no role that reads referral data from
/// an admin, said beside the form.
async fn the_admin_page_grants_by_the_same_rule(backend: Backend) {
    let w = world(backend).await;
    let (cookie, csrf) = session(&w.app.store, w.admin).await;
    let page = no_redirects()
        .post(format!("{}/admin/staff", w.app.base_url))
        .header("Cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("org", "620122"),
            ("name", "个案专员"),
            ("email", "co@example.cn"),
            ("role", "case_officer"),
            ("unit", "620122"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("只能由该单位的督导授予")
    );
    let known = w
        .app
        .store
        .read(|c| {
            Box::pin(async move { jinguo_store::staff::find_by_email(c, "co@example.cn").await })
        })
        .await
        .unwrap();
    assert!(known.is_none(), "nothing was added");
}

// --- 4. permissions per action, no self-granting -----------------------------------------------

async fn submitting_withdrawing_and_granting_need_their_own_permission(backend: Backend) {
    let w = world(backend).await;
    let store = &w.app.store;
    let viewer = add_staff(store, "view@example.cn", "查看者", "viewer", "620122").await;
    let viewer_token = api_token(store, viewer).await;
    let reviewer_token = api_token(store, w.reviewer).await;
    let (status, _) = submit(&w, &viewer_token, &submission(&w, ID_1)).await;
    assert_eq!(status, 403, "a viewer submits nothing");
    let (status, created) = submit(&w, &reviewer_token, &submission(&w, ID_1)).await;
    assert_eq!(status, 201, "a reviewer may nominate (组织推荐)");
    let n = id_of(&created);
    let withdraw = format!("/api/v1/nominations/{n}/withdraw");
    for token in [&viewer_token, &reviewer_token] {
        let (status, _) = post_json(&w, &withdraw, token, &json!({})).await;
        assert_eq!(status, 403, "neither a viewer nor a reviewer withdraws");
    }
    let (status, _) = post_json(&w, &withdraw, &w.admin_token, &json!({})).await;
    assert_eq!(status, 200);

    let grant = |token: String, email: &'static str, role: &'static str, org: &'static str| {
        let w = &w;
        async move {
            post_json(
                w,
                "/api/v1/staff",
                &token,
                &json!({ "email": email, "name": "某某", "role": role, "org": org }),
            )
            .await
            .0
        }
    };
    let admin = w.admin_token.clone();
    assert_eq!(
        grant(admin.clone(), "new@example.cn", "reviewer", "620122").await,
        201
    );
    assert_eq!(
        grant(admin.clone(), "co@example.cn", "case_officer", "620122").await,
        403,
        "an admin grants no role that reads referral data"
    );
    let supervisor = add_staff(store, "sup@example.cn", "督导", "supervisor", "620122").await;
    let supervisor_token = api_token(store, supervisor).await;
    assert_eq!(
        grant(
            supervisor_token.clone(),
            "co@example.cn",
            "case_officer",
            "620122"
        )
        .await,
        201
    );
    assert_eq!(
        grant(supervisor_token, "sup@example.cn", "case_officer", "620122").await,
        403,
        "nobody grants to themselves"
    );
    assert_eq!(
        grant(admin.clone(), "admin@example.cn", "reviewer", "620122").await,
        403,
        "not even another role"
    );
    // Someone who already works elsewhere is not the admin's to grant to.
    add_staff(store, "away@example.cn", "外县人员", "reviewer", "620123").await;
    assert_eq!(
        grant(admin.clone(), "away@example.cn", "viewer", "620122").await,
        403
    );
    // A disabled person gets no role.
    let gone = add_staff(store, "gone@example.cn", "已停用", "viewer", "620122").await;
    store
        .transaction(move |c| {
            Box::pin(async move {
                jinguo_auth::staff::set_active(c, gone, false, "test", jinguo_bus::now()).await
            })
        })
        .await
        .unwrap();
    assert_eq!(
        grant(admin, "gone@example.cn", "reviewer", "620122").await,
        400
    );
}

// --- 5. bounded rules and text ----------------------------------------------------------------

async fn rules_and_text_out_of_bounds_are_refused_naming_the_field(backend: Backend) {
    let w = world(backend).await;
    let base = json!({ "categories": ["最美家庭"], "quotas": { "village": 0, "township": 0, "county": 0 }, "publicity": "3d" });
    let cases = [
        (
            json!({ "quotas": { "village": 100_001, "township": 0, "county": 0 } }),
            "rules.quotas.village",
        ),
        (json!({ "publicity": "9999999999d" }), "rules.publicity"),
        (
            json!({ "publicity": "213503982334602d" }),
            "rules.publicity",
        ),
        (json!({ "publicity": "91d" }), "rules.publicity"),
        (json!({ "publicity": "0wd" }), "rules.publicity"),
        (
            json!({ "village_publicity": "61wd" }),
            "rules.village_publicity",
        ),
        (
            json!({ "deadlines": { "village": { "working_days": 4_294_967_295u64 } } }),
            "rules.deadlines.village",
        ),
        (
            json!({ "deadlines": { "county": { "date": "2099-01-01" } } }),
            "rules.deadlines.county",
        ),
    ];
    for (patch, field) in cases {
        let mut rules = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            rules[k] = v.clone();
        }
        let (status, answer) = post_json(
            &w,
            "/api/v1/campaigns",
            &w.admin_token,
            &json!({ "name": "越界评选", "year": 2026, "scope_org": "620122", "rules": rules }),
        )
        .await;
        assert_eq!(status, 400, "{patch}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{patch}");
    }
    let texts = [
        ("head_name", json!("李\u{7}秀英"), "family.head_name"),
        ("head_name", json!("李".repeat(51)), "family.head_name"),
        ("head_name", json!("\u{200b}\u{2060}"), "family.head_name"),
        ("address", json!("村".repeat(201)), "family.address"),
        ("address", json!("皋兰县\u{202e}某村"), "family.address"),
    ];
    for (key, value, field) in texts {
        let mut body = submission(&w, ID_1);
        body["family"][key] = value.clone();
        let (status, answer) = submit(&w, &w.admin_token, &body).await;
        assert_eq!(status, 400, "{value}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{value}");
    }
    let mut body = submission(&w, ID_1);
    body["story"] = json!(format!("{STORY}\u{202e}"));
    let (status, answer) = submit(&w, &w.admin_token, &body).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["field"], "story");
    // Fifty characters counted after invisible ones are removed.
    let mut body = submission(&w, ID_1);
    body["story"] = json!(format!("{}{}", "好".repeat(49), "\u{200b}".repeat(10)));
    let (status, answer) = submit(&w, &w.admin_token, &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["field"], "story");
    assert!(answer["error"]["message"].as_str().unwrap().contains("50"));
}

jinguo_tests::on_both_backends!(
    a_disabled_reviewer_is_refused_at_every_entry_point,
    a_person_disabled_behind_our_back_is_refused_at_the_moment_of_use,
    disabling_hands_open_tasks_to_the_other_reviewers,
    enabling_and_disabling_ask_for_confirmation_on_the_command_line,
    one_household_however_its_number_is_typed,
    nominations_stored_before_lose_their_plain_identities,
    a_flagged_household_is_accepted_exactly_like_any_other,
    a_held_nomination_refuses_and_stalls_like_any_other,
    a_reviewer_moved_away_neither_sees_nor_decides,
    a_disabled_case_officers_holds_pass_to_another,
    only_case_officers_decide_a_hold_through_the_api,
    the_admin_page_grants_by_the_same_rule,
    submitting_withdrawing_and_granting_need_their_own_permission,
    rules_and_text_out_of_bounds_are_refused_naming_the_field,
);
