//! The real `jinguo` binary, driven as an operator would drive it.

use jinguo_tests::{Backend, Contents, JinguoProcess, TestDb, get_json, run_jinguo};

#[tokio::test(flavor = "multi_thread")]
async fn first_run_serves_all_of_gansu_from_an_empty_directory() {
    // No configuration at all but the port: the embedded default.
    let mut jinguo = JinguoProcess::start(&[]).await;
    let client = reqwest::Client::new();
    let (status, body) = get_json(
        &client,
        &format!("{}/api/v1/orgs/620000000000/children", jinguo.base_url),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["children"].as_array().unwrap().len(), 14);
    let (status, village) = get_json(
        &client,
        &format!("{}/api/v1/orgs/620102021200", jinguo.base_url),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(village["name"], "忠和村委会");
    assert!(
        jinguo.dir.path().join("data/jinguo.db").exists(),
        "the database lives under ./data"
    );
    assert!(jinguo.log().contains("loaded built-in Gansu tree"));

    let status = jinguo.terminate();
    assert!(
        status.success(),
        "SIGTERM ends with exit 0, got {status}:\n{}",
        jinguo.log()
    );
    assert!(jinguo.log().contains("stopped"));
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_gives_the_same_answers_as_sqlite() {
    let db = TestDb::new(Backend::Postgres, Contents::Empty).await;
    let url = db.url();
    let on_postgres = JinguoProcess::start(&[("JINGUO_DATABASE__URL", &url)]).await;
    let on_sqlite = JinguoProcess::start(&[]).await;
    let client = reqwest::Client::new();
    for path in [
        "/api/v1/orgs/620000000000/children",
        "/api/v1/orgs/620122000000/children",
        "/api/v1/orgs/620201100",
        "/api/v1/orgs/620102021200",
        "/api/v1/orgs/999",
    ] {
        let pg = get_json(&client, &format!("{}{path}", on_postgres.base_url)).await;
        let lite = get_json(&client, &format!("{}{path}", on_sqlite.base_url)).await;
        assert_eq!(pg, lite, "{path}");
    }
    let (_, ready) = get_json(&client, &format!("{}/readyz", on_postgres.base_url)).await;
    assert_eq!(ready["checks"]["database"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn import_orgs_is_all_or_nothing_and_idempotent() {
    let db = TestDb::new(Backend::Postgres, Contents::Empty).await;
    let url = db.url();
    let env = [("JINGUO_DATABASE__URL", url.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "code,name\n62,甘肃省\n6201,兰州市\n620102,城关区\n").unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "code,name\n62,甘肃省\n6201,\n").unwrap();

    let out = run_jinguo(dir.path(), &["import", "orgs", "bad.csv"], &env);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: importing bad.csv: line 3: name is empty"),
        "{stderr}"
    );

    let out = run_jinguo(dir.path(), &["import", "orgs", "good.csv"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("inserted 3, renamed 0, unchanged 0"));
    let out = run_jinguo(dir.path(), &["import", "orgs", "good.csv"], &env);
    assert!(String::from_utf8_lossy(&out.stdout).contains("inserted 0, renamed 0, unchanged 3"));

    let out = run_jinguo(dir.path(), &["import", "orgs", "missing.csv"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: reading missing.csv"));
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_reports_what_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_jinguo(dir.path(), &["migrate"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied"));
    let out = run_jinguo(dir.path(), &["migrate"], &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_postgres_fails_start_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let env = [(
        "JINGUO_DATABASE__URL",
        "postgres://postgres@127.0.0.1:1/none",
    )];
    let out = run_jinguo(dir.path(), &["serve"], &env);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: opening database postgres://postgres@127.0.0.1:1/none"),
        "{stderr}"
    );
}
