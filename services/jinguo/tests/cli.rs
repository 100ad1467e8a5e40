//! The command line itself: version, help, and how start-up refuses bad configuration.
//! (Living in this package also makes `cargo test --workspace` build the binary that the
//! end-to-end tests in tests/ start.)

use std::process::{Command, Output};

fn jinguo(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_jinguo"))
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn version_names_the_release() {
    let out = jinguo(&["--version"], &[]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("jinguo {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["import", "--help"],
        &["import", "orgs", "--help"],
    ] {
        let out = jinguo(args, &[]);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: jinguo"), "{args:?}: {text}");
    }
}

#[test]
fn unknown_key_stops_start_up_with_one_line() {
    let out = jinguo(&["migrate"], &[("JINGUO_HTTP__PORT", "80")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_lines(&out),
        [
            "error: configuration: http.port (from environment variable JINGUO_HTTP__PORT): \
          unknown key (config/default.toml lists every key)"
        ]
    );
}

#[test]
fn bad_value_stops_start_up_naming_key_and_origin() {
    let out = jinguo(&[], &[("JINGUO_DATABASE__URL", "mysql://db/jinguo")]);
    assert_eq!(out.status.code(), Some(1));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("database.url (from environment variable JINGUO_DATABASE__URL)"));
}

#[test]
fn bad_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jinguo.toml");
    std::fs::write(&file, "[amqp]\nprefix = 7\n").unwrap();
    let out = jinguo(&["migrate"], &[("JINGUO_CONFIG", file.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(1));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(&format!("amqp.prefix (from file {})", file.display())),
        "{lines:?}"
    );
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let out = jinguo(&["frobnicate"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn tour_solve_writes_a_checked_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("instance.json");
    std::fs::write(
        &input,
        r#"{
          "villages": [
            {"code": "620122100201", "name": "甲村", "lat": 36.30, "lon": 103.90, "sessions": 1},
            {"code": "620122100202", "name": "乙村", "lat": 36.32, "lon": 103.93, "sessions": 1},
            {"code": "620122100203", "name": "丙村", "lat": 36.36, "lon": 103.97, "sessions": 1}
          ],
          "lecturers": [
            {"id": "L1", "name": "王芳", "home_lat": 36.31, "home_lon": 103.91, "topics": ["反家暴"],
             "available": ["2026-12-01", "2026-12-02"], "max_per_day": 2}
          ],
          "days": ["2026-12-01", "2026-12-02"],
          "day_start": "08:30", "day_end": "17:30", "session_minutes": 90,
          "speed_kmh": 40, "road_factor": 1.3, "topic": "反家暴", "ignored_field": true
        }"#,
    )
    .unwrap();
    let out = jinguo(
        &[
            "tour",
            "solve",
            "--input",
            input.to_str().unwrap(),
            "--time-limit-ms",
            "200",
            "--seed",
            "3",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let schedule: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schedule["stats"]["covered"], 3);
    assert_eq!(schedule["sessions"].as_array().unwrap().len(), 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 of 3 villages covered"));

    std::fs::write(&input, "{\"villages\": []}").unwrap();
    let bad = jinguo(&["tour", "solve", "--input", input.to_str().unwrap()], &[]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(stderr_lines(&bad).len(), 1);
    assert!(stderr_lines(&bad)[0].contains("not a tour instance"));
}

#[test]
fn a_generated_county_instance_is_fully_covered() {
    let dir = tempfile::tempdir().unwrap();
    let out = jinguo(
        &[
            "tour",
            "generate",
            "--county",
            "620122",
            "--lecturers",
            "10",
            "--days",
            "10",
            "--seed",
            "2",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let instance: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let villages = instance["villages"].as_array().unwrap().len();
    assert_eq!(villages, 42, "皋兰县's villages in the shipped data");
    let input = dir.path().join("gaolan.json");
    std::fs::write(&input, &out.stdout).unwrap();
    let solved = jinguo(
        &[
            "tour",
            "solve",
            "--input",
            input.to_str().unwrap(),
            "--time-limit-ms",
            "500",
        ],
        &[],
    );
    assert!(
        solved.status.success(),
        "{}",
        String::from_utf8_lossy(&solved.stderr)
    );
    let schedule: serde_json::Value = serde_json::from_slice(&solved.stdout).unwrap();
    assert_eq!(schedule["stats"]["covered"], villages);
    let bad = jinguo(&["tour", "generate", "--county", "620122100"], &[]);
    assert_eq!(
        stderr_lines(&bad),
        ["error: --county: 620122100000 is not a county-level unit"]
    );
}
