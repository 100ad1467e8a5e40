use std::io::Write;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn error(pairs: &[(&str, &str)]) -> String {
    Config::from_env(env(pairs)).unwrap_err().to_string()
}

#[test]
fn defaults_alone_give_the_embedded_setup() {
    let c = Config::from_env(Vec::new()).unwrap();
    assert_eq!(c.database.url, DatabaseUrl::Sqlite("data/jinguo.db".into()));
    assert_eq!(c.amqp.url, None);
    assert_eq!(c.amqp.prefix, "jinguo");
    assert_eq!(c.http.addr.to_string(), "127.0.0.1:8080");
    assert_eq!(c.http.public_url, "http://127.0.0.1:8080");
    assert_eq!(c.mail.smtp_url, None);
}

#[test]
fn environment_overrides_file_which_overrides_defaults() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        f,
        "[amqp]\nprefix = \"from-file\"\n[http]\naddr = \"0.0.0.0:9000\""
    )
    .unwrap();
    let path = f.path().to_str().unwrap();
    let c = Config::from_env(env(&[
        ("JINGUO_CONFIG", path),
        ("JINGUO_AMQP__PREFIX", "from-env"),
        ("JINGUO_DATABASE__URL", "postgres://postgres@127.0.0.1/test"),
        ("JINGUO_DATA_DIR", "/srv/jinguo"),
        ("PATH", "/usr/bin"),
    ]))
    .unwrap();
    assert_eq!(c.amqp.prefix, "from-env");
    assert_eq!(c.http.addr.to_string(), "0.0.0.0:9000");
    assert_eq!(c.database.url.backend_name(), "postgres");
    assert_eq!(c.data_dir, std::path::PathBuf::from("/srv/jinguo"));
}

#[test]
fn unknown_environment_key_names_the_variable() {
    let e = error(&[("JINGUO_DATABASE__URLL", "sqlite://x.db")]);
    assert_eq!(
        e,
        "configuration: database.urll (from environment variable JINGUO_DATABASE__URLL): \
         unknown key (config/default.toml lists every key)"
    );
}

#[test]
fn unknown_file_key_names_the_file() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "[http]\nport = 80").unwrap();
    let path = f.path().to_str().unwrap().to_owned();
    let e = error(&[("JINGUO_CONFIG", &path)]);
    assert!(
        e.starts_with(&format!(
            "configuration: http.port (from file {path}): unknown key"
        )),
        "{e}"
    );
}

#[test]
fn bad_values_name_key_origin_and_rule() {
    let e = error(&[("JINGUO_HTTP__ADDR", "localhost")]);
    assert!(
        e.contains("http.addr (from environment variable JINGUO_HTTP__ADDR): must be HOST:PORT"),
        "{e}"
    );
    let e = error(&[("JINGUO_DATABASE__URL", "mysql://x")]);
    assert!(
        e.contains("database.url") && e.contains("sqlite:// or postgres://"),
        "{e}"
    );
    let e = error(&[("JINGUO_DATABASE__MAX_CONNECTIONS", "many")]);
    assert!(
        e.contains("database.max_connections") && e.contains("whole number"),
        "{e}"
    );
    let e = error(&[("JINGUO_DATABASE__MAX_CONNECTIONS", "0")]);
    assert!(e.contains("positive"), "{e}");
    let e = error(&[("JINGUO_AMQP__URL", "http://rabbit")]);
    assert!(e.contains("amqp.url"), "{e}");
    let e = error(&[("JINGUO_AMQP__PREFIX", "a b")]);
    assert!(e.contains("amqp.prefix"), "{e}");
    let e = error(&[("JINGUO_LOG__FORMAT", "xml")]);
    assert!(e.contains("log.format"), "{e}");
}

#[test]
fn wrong_type_in_file_is_refused() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "[database]\nmax_connections = \"eight\"").unwrap();
    let path = f.path().to_str().unwrap().to_owned();
    let e = error(&[("JINGUO_CONFIG", &path)]);
    assert!(
        e.contains("database.max_connections") && e.contains("must be of type integer"),
        "{e}"
    );
}

#[test]
fn missing_or_broken_config_file_is_reported() {
    let e = error(&[("JINGUO_CONFIG", "/nonexistent/jinguo.toml")]);
    assert!(
        e.starts_with(
            "configuration: JINGUO_CONFIG (from file /nonexistent/jinguo.toml): cannot read"
        ),
        "{e}"
    );
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "[http\naddr=").unwrap();
    let path = f.path().to_str().unwrap().to_owned();
    assert!(error(&[("JINGUO_CONFIG", &path)]).contains("not valid TOML"));
}

#[test]
fn postgres_password_is_not_printed() {
    let u = DatabaseUrl::parse("postgres://app:secret@db:5432/jinguo").unwrap();
    assert!(!format!("{u:?}").contains("secret"));
}

#[test]
fn public_url_defaults_to_the_listen_address() {
    let c = Config::from_env(env(&[("JINGUO_HTTP__ADDR", "127.0.0.1:9999")])).unwrap();
    assert_eq!(c.http.public_url, "http://127.0.0.1:9999");
    let c = Config::from_env(env(&[(
        "JINGUO_HTTP__PUBLIC_URL",
        "https://jinguo.example.cn/",
    )]))
    .unwrap();
    assert_eq!(c.http.public_url, "https://jinguo.example.cn");
}

#[test]
fn shipped_production_example_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/production.toml");
    // The example refuses the public development key: it starts only with keys of its own.
    let e = Config::from_env(env(&[("JINGUO_CONFIG", path)])).unwrap_err();
    assert!(
        e.to_string().contains("crypto.data_keys") && e.to_string().contains("development"),
        "{e}"
    );
    let own = "prod1:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let c = Config::from_env(env(&[
        ("JINGUO_CONFIG", path),
        ("JINGUO_CRYPTO__DATA_KEYS", own),
        ("JINGUO_CRYPTO__DATA_KEY_CURRENT", "prod1"),
    ]))
    .unwrap();
    assert_eq!(c.database.url.backend_name(), "postgres");
    assert!(c.amqp.url.is_some());
    assert_eq!(c.log.format, LogFormat::Json);
}

#[test]
fn retry_delays_parse_and_bad_ones_are_named() {
    let c = Config::from_env(env(&[("JINGUO_MESSAGING__RETRY_DELAYS", "200ms, 1s,1m")])).unwrap();
    assert_eq!(c.messaging.retry.max_attempts(), 4);
    let e = error(&[("JINGUO_MESSAGING__RETRY_DELAYS", "1s,soon")]);
    assert!(
        e.contains("messaging.retry_delays") && e.contains("soon"),
        "{e}"
    );
    let none = Config::from_env(env(&[("JINGUO_MESSAGING__RETRY_DELAYS", "")])).unwrap();
    assert_eq!(
        none.messaging.retry.max_attempts(),
        1,
        "no delays: one attempt, then dead"
    );
}

#[test]
fn cron_jobs_come_from_files_and_environment() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        f,
        "[cron.jobs.nightly]\nschedule = \"0 30 2 * * *\"\nkind = \"report.nightly\""
    )
    .unwrap();
    let path = f.path().to_str().unwrap().to_owned();
    let c = Config::from_env(env(&[
        ("JINGUO_CONFIG", &path),
        ("JINGUO_CRON__JOBS__DAILY_DIGEST__ENABLED", "true"),
        ("JINGUO_CRON__JOBS__WEEKLY__SCHEDULE", "0 0 9 * * Mon"),
        ("JINGUO_CRON__JOBS__WEEKLY__KIND", "report.weekly"),
    ]))
    .unwrap();
    let names: Vec<_> = c
        .cron
        .jobs
        .iter()
        .map(|j| (j.name.as_str(), j.enabled))
        .collect();
    assert_eq!(
        names,
        [
            ("daily_digest", true),
            ("nightly", true),
            ("review_digest", true),
            ("weekly", true)
        ]
    );
    let nightly = c.cron.jobs.iter().find(|j| j.name == "nightly").unwrap();
    assert_eq!(
        (nightly.kind.as_str(), nightly.working_days_only),
        ("report.nightly", false)
    );
}

#[test]
fn bad_cron_jobs_are_named() {
    let e = error(&[("JINGUO_CRON__JOBS__DAILY_DIGEST__SCHEDULE", "0 0 8 * * 2-6")]);
    assert!(
        e.contains("cron.jobs.daily_digest.schedule") && e.contains("names"),
        "{e}"
    );
    let e = error(&[("JINGUO_CRON__JOBS__X__KIND", "a.b")]);
    assert!(
        e.contains("cron.jobs.x.schedule") && e.contains("missing"),
        "{e}"
    );
    let e = error(&[("JINGUO_CRON__JOBS__X__COLOUR", "red")]);
    assert!(
        e.contains("cron.jobs.x.colour") && e.contains("unknown key"),
        "{e}"
    );
    let e = error(&[("JINGUO_CRON__MISSED", "twice")]);
    assert!(e.contains("cron.missed"), "{e}");
    let e = error(&[("JINGUO_CALENDAR__TIME_ZONE", "Mars/Olympus")]);
    assert!(e.contains("calendar.time_zone"), "{e}");
}

#[test]
fn calendar_dir_replaces_and_extends_the_built_in_years() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("2027.toml"),
        "year = 2027\nholidays = [\"2027-01-01\"]\n",
    )
    .unwrap();
    let c = Config::from_env(env(&[(
        "JINGUO_CALENDAR__DIR",
        dir.path().to_str().unwrap(),
    )]))
    .unwrap();
    let cal = c.calendar.load().unwrap();
    assert!(cal.missing_years(2026, 2027).is_empty());
    assert!(!cal.is_working_day("2027-01-01".parse().unwrap(), None));
    std::fs::write(
        dir.path().join("2028.toml"),
        "year = 2028\nholidays = [\"2029-01-01\"]\n",
    )
    .unwrap();
    let c = Config::from_env(env(&[(
        "JINGUO_CALENDAR__DIR",
        dir.path().to_str().unwrap(),
    )]))
    .unwrap();
    let e = c.calendar.load().unwrap_err().to_string();
    assert!(e.contains("2028.toml") && e.contains("not in 2028"), "{e}");
}

#[test]
fn lifetimes_added_to_dates_are_bounded() {
    for (key, value) in [
        ("JINGUO_NOMINATIONS__REVIEW_LINK_DAYS", "4294967295"),
        ("JINGUO_AUTH__SESSION_HOURS", "100000"),
        ("JINGUO_AUTH__SIGN_IN_LINK_MINUTES", "0"),
    ] {
        let err = Config::from_env(vec![(key.to_owned(), value.to_owned())]).unwrap_err();
        assert!(err.to_string().contains("from 1 to"), "{key}: {err}");
    }
}
