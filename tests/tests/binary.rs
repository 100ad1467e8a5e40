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

#[tokio::test(flavor = "multi_thread")]
async fn dlq_commands_list_show_and_replay() {
    let db = TestDb::new(Backend::Sqlite, Contents::Empty).await;
    let store = db.store().await;
    let mut message = jinguo_bus::message(
        "nomination.decided",
        serde_json::json!({ "nomination_id": 42 }),
    );
    message = message.with_failure("nominations", "reviewer not found", jinguo_bus::now());
    let m = message.clone();
    store
        .transaction(move |c| {
            Box::pin(async move {
                jinguo_store::dead_letters::record(
                    c,
                    "nominations",
                    &m,
                    "reviewer not found",
                    jinguo_bus::now(),
                )
                .await
            })
        })
        .await
        .unwrap();
    let url = db.url();
    let env = [("JINGUO_DATABASE__URL", url.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let text = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).into_owned();

    let out = run_jinguo(dir.path(), &["dlq", "list"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = text(&out);
    assert!(
        listing.contains("nominations")
            && listing.contains("nomination.decided")
            && listing.contains("reviewer not found"),
        "{listing}"
    );

    let out = run_jinguo(dir.path(), &["dlq", "show", "1"], &env);
    let shown = text(&out);
    assert!(
        shown.contains("attempt 1") && shown.contains(&message.id.to_string()),
        "{shown}"
    );

    let out = run_jinguo(dir.path(), &["dlq", "replay", "1"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_jinguo(dir.path(), &["dlq", "replay", "1"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: dead letter 1 was already replayed"
    );
    let out = run_jinguo(dir.path(), &["dlq", "show", "99"], &env);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: no dead letter 99"
    );

    // The replay is a message for that consumer alone, waiting in the outbox.
    let unsent = store
        .read(|c| Box::pin(jinguo_store::outbox::unsent(c)))
        .await
        .unwrap();
    assert_eq!(unsent.len(), 1);
    assert_eq!(unsent[0].kind, "nomination.decided");
    let out = run_jinguo(dir.path(), &["dlq", "list"], &env);
    assert!(text(&out).contains("no dead letters"));
}

#[tokio::test(flavor = "multi_thread")]
async fn run_names_the_known_services_when_given_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_jinguo(dir.path(), &["run", "nosuch"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("unknown service \"nosuch\"; known: relay, reminders, dead-letters"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn run_relay_on_rabbitmq_stops_cleanly_on_sigterm() {
    let db = TestDb::new(Backend::Postgres, Contents::Empty).await;
    let url = db.url();
    let prefix = jinguo_tests::unique_prefix();
    let amqp = jinguo_tests::amqp_url();
    let dir = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(jinguo_tests::jinguo_bin())
        .args(["run", "relay"])
        .current_dir(dir.path())
        .env_clear()
        .env("JINGUO_DATABASE__URL", &url)
        .env("JINGUO_AMQP__URL", &amqp)
        .env("JINGUO_AMQP__PREFIX", &prefix)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("relay started") && log.contains("relay stopped"),
        "{log}"
    );
    jinguo_tests::delete_broker_names(
        vec![format!("{prefix}.dead")],
        vec![prefix.clone(), format!("{prefix}.dead")],
    );
}
