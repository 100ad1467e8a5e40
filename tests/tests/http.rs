//! The HTTP API in-process, on both backends.

use jinguo_tests::{Backend, Contents, TestApp};

async fn gansu_children_are_the_fourteen_cities(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app.get_json("/api/v1/orgs/620000000000/children").await;
    assert_eq!(status, 200);
    assert_eq!(body["org"]["name"], "甘肃省");
    let children = body["children"].as_array().unwrap();
    assert_eq!(children.len(), 14);
    assert_eq!(children[0]["code"], "620100000000");
    assert_eq!(children[0]["name"], "兰州市");
    assert!(children.iter().all(|c| c["level"] == "city"));
    let names: Vec<_> = children
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"临夏回族自治州") && names.contains(&"甘南藏族自治州"));
}

async fn one_unit_carries_level_parent_and_practice_center(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app.get_json("/api/v1/orgs/620122").await;
    assert_eq!(status, 200);
    assert_eq!(body["code"], "620122000000");
    assert_eq!(body["name"], "皋兰县");
    assert_eq!(body["parent"], "620100000000");
    assert_eq!(body["level"], "county");
    assert_eq!(body["practice_center"], "center");
    assert_eq!(body["practice_center_name"], "新时代文明实践中心");
    assert_eq!(body["location"]["generated"], false);

    let (status, town) = app.get_json("/api/v1/orgs/620201100").await;
    assert_eq!(status, 200);
    assert_eq!(
        (town["name"].as_str(), town["level"].as_str()),
        (Some("新城镇"), Some("township"))
    );
    assert_eq!(town["practice_center_name"], "新时代文明实践所");
    assert_eq!(town["location"]["generated"], true);

    let (status, county) = app.get_json("/api/v1/orgs/620122000000/children").await;
    assert_eq!(status, 200);
    let towns = county["children"].as_array().unwrap();
    assert!(!towns.is_empty());
    let first_town = towns[0]["code"].as_str().unwrap().to_owned();
    let (_, villages) = app
        .get_json(&format!("/api/v1/orgs/{first_town}/children"))
        .await;
    let villages = villages["children"].as_array().unwrap();
    assert!(!villages.is_empty());
    assert!(villages.iter().all(|v| v["practice_center"] == "station"));
}

async fn malformed_code_is_400_unknown_code_is_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in [
        "/api/v1/orgs/62x",
        "/api/v1/orgs/6201221",
        "/api/v1/orgs/620000100000/children",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["error"]["code"], "invalid");
        assert_eq!(body["error"]["field"], "code");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("org code")
        );
    }
    for path in [
        "/api/v1/orgs/630000000000",
        "/api/v1/orgs/630000000000/children",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"]["code"], "not_found");
        assert_eq!(
            body["error"]["message"],
            "no org unit with code 630000000000"
        );
    }
    let (status, body) = app.get_json("/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

async fn health_and_readiness_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!((status, body), (200, serde_json::json!({ "status": "ok" })));
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body["checks"]["database"], "ok");
    assert!(
        body["checks"].get("broker").is_none(),
        "no broker configured, none checked"
    );
}

async fn readiness_names_an_unreachable_broker(backend: Backend) {
    // Nothing listens on port 1.
    let extra = [("JINGUO_AMQP__URL", "amqp://guest:guest@127.0.0.1:1/%2f")];
    let app = TestApp::spawn_with(backend, Contents::Empty, &extra).await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["broker"], "unavailable");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["error"]["message"], "unavailable: broker");
}

async fn readiness_checks_the_real_broker(backend: Backend) {
    let url = jinguo_tests::amqp_url();
    let app = TestApp::spawn_with(backend, Contents::Empty, &[("JINGUO_AMQP__URL", &url)]).await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "RabbitMQ must be running at {url}: {body}");
    assert_eq!(body["checks"]["broker"], "ok");
}

async fn start_page_says_what_the_platform_is_in_chinese(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.client.get(&app.base_url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("巾帼"));
    assert!(html.contains("href=\"/signin\""), "a way to sign in");
    assert!(html.contains("href=\"/help\""), "the public help page");
    // The technical status is on /admin/status (tests/tests/campaign_pages.rs).
    assert!(!html.contains("17718") && !html.contains("PostgreSQL") && !html.contains("SQLite"));
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_are_refused_with_413() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        Contents::Empty,
        &[("JINGUO_HTTP__BODY_LIMIT_BYTES", "1024")],
    )
    .await;
    let response = app
        .client
        .post(format!("{}/api/v1/orgs/62", app.base_url))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large");
    assert_eq!(body["error"]["field"], "body");
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_reports_the_database_down() {
    let app = TestApp::spawn_with(Backend::Postgres, Contents::Empty, &[]).await;
    let (status, _) = app.get_json("/readyz").await;
    assert_eq!(status, 200);
    // Take the database away under the running service.
    let mut admin = {
        use diesel_async::AsyncConnection;
        diesel_async::AsyncPgConnection::establish(&jinguo_tests::postgres_admin_url())
            .await
            .unwrap()
    };
    let name = app.db.url().rsplit('/').next().unwrap().to_owned();
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut admin,
        &format!("DROP DATABASE {name} WITH (FORCE)"),
    )
    .await
    .unwrap();
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["database"], "unavailable");
    assert_eq!(body["error"]["code"], "not_ready");
    assert_eq!(body["error"]["message"], "unavailable: database");
}

jinguo_tests::on_both_backends!(
    gansu_children_are_the_fourteen_cities,
    one_unit_carries_level_parent_and_practice_center,
    malformed_code_is_400_unknown_code_is_404,
    health_and_readiness_answer,
    readiness_names_an_unreachable_broker,
    readiness_checks_the_real_broker,
    start_page_says_what_the_platform_is_in_chinese,
);
