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
    // Demo staff for 皋兰县, and how to sign in as each.
    assert!(
        jinguo.log().contains("demo-admin@jinguo.invalid") && jinguo.log().contains("/dev/mailbox")
    );
    let client_form = reqwest::Client::new();
    let signin = client_form
        .post(format!("{}/signin", jinguo.base_url))
        .form(&[("email", "demo-village@jinguo.invalid")])
        .send()
        .await
        .unwrap();
    assert_eq!(signin.status(), 200);

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
        stderr.contains("unknown service \"nosuch\"; known: api, relay, reminders, dead-letters"),
        "{stderr}"
    );
}

/// `jinguo run api` serves HTTP and runs no worker: production scales the API apart.
#[tokio::test(flavor = "multi_thread")]
async fn run_api_serves_http_and_runs_no_worker() {
    let db = TestDb::new(Backend::Postgres, Contents::Gansu).await;
    let url = db.url();
    let mut api = JinguoProcess::start_with(
        &["run", "api"],
        tempfile::tempdir().unwrap(),
        &[
            ("JINGUO_DATABASE__URL", &url),
            ("JINGUO_LOG__FORMAT", "json"),
        ],
    )
    .await;
    let r = reqwest::get(format!("{}/api/v1/orgs/620122", api.base_url))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let status = api.terminate();
    let log = api.log();
    assert!(status.success(), "{log}");
    assert!(log.contains("jinguo serving"), "{log}");
    assert!(
        !log.contains("relay started") && !log.contains("scheduler"),
        "no worker in the API process: {log}"
    );
    // On its way out it says how much database work it did (what `jinguo-bench workflow`
    // divides by transitions): the org read above is some.
    let work: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["fields"]["message"] == "database work")
        .unwrap_or_else(|| panic!("no database work line: {log}"));
    let statements = work["fields"]["statements"].as_u64().unwrap_or(0);
    assert!(statements > 0, "{work}");
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
    // The relay declares the whole deployment's topology: delete all of it.
    jinguo_tests::delete_deployment_names(&jinguo_tests::test_config(
        &db,
        &[("JINGUO_AMQP__PREFIX", prefix.as_str())],
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_staff_import_in_one_go_and_a_bad_row_imports_nothing() {
    let db = TestDb::new(Backend::Postgres, Contents::Gansu).await;
    let url = db.url();
    let env = [("JINGUO_DATABASE__URL", url.as_str())];
    let dir = tempfile::tempdir().unwrap();
    // Reviewers for the first 1,000 villages of Gansu.
    let store = db.store().await;
    let mut villages = Vec::new();
    let mut towns = Vec::new();
    let counties = store
        .read(|c| {
            Box::pin(jinguo_store::orgs::children(
                c,
                jinguo_core::org::OrgCode::parse("6201").unwrap(),
            ))
        })
        .await
        .unwrap();
    for county in counties {
        let code = county.code;
        towns.extend(
            store
                .read(move |c| Box::pin(jinguo_store::orgs::children(c, code)))
                .await
                .unwrap(),
        );
    }
    for town in towns {
        let code = town.code;
        villages.extend(
            store
                .read(move |c| Box::pin(jinguo_store::orgs::children(c, code)))
                .await
                .unwrap(),
        );
        if villages.len() >= 1000 {
            break;
        }
    }
    let mut csv = String::from("email,name,role,org\n");
    for (i, v) in villages.iter().take(1000).enumerate() {
        csv.push_str(&format!(
            "reviewer{i}@example.cn,审核员{i},reviewer,{}\n",
            v.code
        ));
    }
    let mut bad = csv.clone();
    bad.push_str("broken@example.cn,坏行,reviewer,999999\n");
    std::fs::write(dir.path().join("bad.csv"), &bad).unwrap();
    std::fs::write(dir.path().join("staff.csv"), &csv).unwrap();

    let out = run_jinguo(dir.path(), &["user", "import", "bad.csv"], &env);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "error: importing bad.csv: line 1002: org: 没有代码为 999999000000 的单位"
        ),
        "{stderr}"
    );
    let none = store
        .read(|c| Box::pin(jinguo_store::staff::list(c, None)))
        .await
        .unwrap();
    assert!(none.is_empty(), "nothing of the bad file was applied");

    let out = run_jinguo(dir.path(), &["user", "import", "staff.csv"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("people added 1000, roles 1000"));
    let all = store
        .read(|c| Box::pin(jinguo_store::staff::list(c, None)))
        .await
        .unwrap();
    assert_eq!(all.len(), 1000);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_token_and_audit_commands() {
    let db = TestDb::new(Backend::Sqlite, Contents::Gansu).await;
    let url = db.url();
    let env = [("JINGUO_DATABASE__URL", url.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let stdout = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).trim().to_owned();

    let add = run_jinguo(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "Admin@Example.cn",
            "--name",
            "王芳",
            "--role",
            "admin",
            "--org",
            "620122",
        ],
        &env,
    );
    assert!(add.status.success(), "{}", stderr(&add));
    let bad_role = run_jinguo(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "x@example.cn",
            "--name",
            "甲",
            "--role",
            "boss",
            "--org",
            "620122",
        ],
        &env,
    );
    assert_eq!(bad_role.status.code(), Some(1));
    assert!(
        stderr(&bad_role).starts_with("error: --role: \"boss\" is not one of"),
        "{}",
        stderr(&bad_role)
    );
    let liaison = run_jinguo(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "p@example.cn",
            "--name",
            "乙",
            "--role",
            "agency_liaison",
            "--org",
            "620122",
        ],
        &env,
    );
    assert_eq!(
        stderr(&liaison),
        "error: --agency: an agency_liaison needs --agency"
    );

    let list = run_jinguo(dir.path(), &["user", "list", "--org", "620122"], &env);
    assert!(
        stdout(&list).contains("admin@example.cn") && stdout(&list).contains("admin@620122000000"),
        "{}",
        stdout(&list)
    );

    let token = run_jinguo(
        dir.path(),
        &[
            "token",
            "create",
            "--email",
            "admin@example.cn",
            "--expires-days",
            "30",
        ],
        &env,
    );
    assert!(token.status.success(), "{}", stderr(&token));
    let secret = stdout(&token).trim().to_owned();
    assert_eq!(secret.len(), 64);
    let unknown = run_jinguo(
        dir.path(),
        &["token", "create", "--email", "nobody@example.cn"],
        &env,
    );
    assert_eq!(
        stderr(&unknown),
        "error: --email: no active staff member nobody@example.cn"
    );

    let disable = run_jinguo(
        dir.path(),
        &["user", "disable", "--email", "admin@example.cn", "--yes"],
        &env,
    );
    assert!(disable.status.success(), "{}", stderr(&disable));

    let verify = run_jinguo(dir.path(), &["audit", "verify"], &env);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(
        stdout(&verify).contains("intact): 3 rows"),
        "{}",
        stdout(&verify)
    );

    // Someone edits the second row behind the application's back.
    let store = db.store().await;
    store
        .read(|c| {
            Box::pin(async move {
                use diesel_async::RunQueryDsl;
                let q = diesel::sql_query("UPDATE audit_log SET details = '{}' WHERE seq = 2");
                jinguo_store::on_backend!(c, |c| q.execute(c).await)
                    .map_err(jinguo_store::StoreError::from)
            })
        })
        .await
        .unwrap();
    let verify = run_jinguo(dir.path(), &["audit", "verify"], &env);
    assert_eq!(verify.status.code(), Some(1));
    assert_eq!(
        stderr(&verify),
        "error: audit log broken at row 2: its content does not match its hash (the row was changed)"
    );
}
