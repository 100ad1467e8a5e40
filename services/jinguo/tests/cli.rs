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

/// Runs jinguo as [`jinguo`] does, failing the test with its stderr unless it succeeds.
fn succeeded(args: &[&str]) -> Output {
    let out = jinguo(args, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
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

const SMALL_INSTANCE: &str = r#"{
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
  "speed_kmh": 40, "road_factor": 1.3, "topic": "反家暴", "ignored_field": true,
  "travel_matrix": {
    "points": ["L1", "620122100201"],
    "minutes": [[0, 25], [20, 0]],
    "km": [[0, 9.5], [8.0, 0]]
  }
}"#;

fn solve_small(dir: &std::path::Path, extra: &[&str]) -> (std::path::PathBuf, Output) {
    let input = dir.join("instance.json");
    std::fs::write(&input, SMALL_INSTANCE).unwrap();
    let mut args = vec![
        "tour",
        "solve",
        "--input",
        input.to_str().unwrap(),
        "--seed",
        "3",
    ];
    args.extend_from_slice(extra);
    let out = jinguo(&args, &[]);
    (input, out)
}

#[test]
fn tour_solve_writes_a_checked_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let (_, out) = solve_small(dir.path(), &["--time-limit-ms", "200"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let schedule: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schedule["stats"]["covered"], 3);
    assert_eq!(schedule["stats"]["spread"], 0);
    assert_eq!(schedule["sessions"].as_array().unwrap().len(), 3);
    // The county's matrix, alone with 甲村: 25 minutes and 9.5 km out, 8 km back (a straight
    // line would be 3 minutes and 2 km each way).
    let mut only_jia: serde_json::Value = serde_json::from_str(SMALL_INSTANCE).unwrap();
    only_jia["villages"].as_array_mut().unwrap().truncate(1);
    let input = dir.path().join("jia.json");
    std::fs::write(&input, only_jia.to_string()).unwrap();
    let jia = jinguo(
        &[
            "tour",
            "solve",
            "--input",
            input.to_str().unwrap(),
            "--iterations",
            "5",
        ],
        &[],
    );
    let jia: serde_json::Value = serde_json::from_slice(&jia.stdout).unwrap();
    assert_eq!(jia["sessions"][0]["start"], "08:55", "{jia}");
    assert_eq!(jia["stats"]["travel_km"], 17.5, "{jia}");
    let lines = stderr_lines(&out);
    // Not a terminal: progress comes as lines, then the summary.
    assert!(
        lines.iter().any(|l| l.starts_with("solving: ")),
        "{lines:?}"
    );
    let done = lines.last().unwrap();
    assert!(done.contains("3 of 3 villages covered"), "{done}");
    assert!(done.contains("travel lower bound"), "{done}");
    assert!(done.contains("3–3 sessions a lecturer"), "{done}");
}

#[test]
fn tour_solve_with_iterations_is_the_same_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let (_, first) = solve_small(dir.path(), &["--iterations", "40"]);
    let (_, second) = solve_small(dir.path(), &["--iterations", "40"]);
    assert!(first.status.success());
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn tour_instances_with_mistakes_are_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("instance.json");
    let path = input.to_str().unwrap();
    let cases = [
        (
            SMALL_INSTANCE.replace("\"lat\": 36.30", "\"lat\": 136.30"),
            "villages[0].lat: 136.3 is not a latitude",
        ),
        (
            SMALL_INSTANCE.replace("\"620122100202\", \"name\"", "\"620122100201\", \"name\""),
            "villages[1].code: 620122100201 appears twice",
        ),
        (
            SMALL_INSTANCE.replace("[[0, 25], [20, 0]]", "[[0, 25], [20]]"),
            "travel_matrix.minutes[1]: 1 entries for 2 points",
        ),
        (
            SMALL_INSTANCE.replace("\"points\": [\"L1\"", "\"points\": [\"L9\""),
            "travel_matrix.points[0]: L9 is neither a village code nor a lecturer id",
        ),
        (
            SMALL_INSTANCE.replace("\"day_end\": \"17:30\"", "\"day_end\": \"5pm\""),
            "not a tour instance: day_end: ",
        ),
        (
            SMALL_INSTANCE.replace("\"day_end\": \"17:30\"", "\"day_end\": \"25:00\""),
            "not a tour instance: day_end: ",
        ),
        (
            SMALL_INSTANCE.replace("\"days\": [\"2026-12-01\"", "\"days\": [\"2026-13-45\""),
            "not a tour instance: days[0]: ",
        ),
        ("{\"villages\": []}".to_owned(), "not a tour instance"),
        (
            {
                // A province and then some: refused before any work.
                let mut too_big: serde_json::Value = serde_json::from_str(SMALL_INSTANCE).unwrap();
                let village = too_big["villages"][0].clone();
                too_big["villages"] = (0..20_001)
                    .map(|i| {
                        let mut v = village.clone();
                        v["code"] = format!("V{i}").into();
                        v
                    })
                    .collect();
                too_big.as_object_mut().unwrap().remove("travel_matrix");
                too_big.to_string()
            },
            "villages: 20001 villages; at most 20000 are taken",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&input, &text).unwrap();
        let out = jinguo(&["tour", "solve", "--input", path], &[]);
        assert_eq!(out.status.code(), Some(1), "{expected}");
        let lines = stderr_lines(&out);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(path),
            "{lines:?}"
        );
        assert!(lines[0].contains(expected), "{lines:?} lacks {expected}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_tour_period_takes_its_days_from_the_working_day_calendar() {
    // 2026-09-28 to 10-11 round 国庆: 10-01 to 10-07 off, Saturday 10-10 a 调休 working day,
    // Sunday 10-11 an ordinary weekend. One talk a day, one lecturer free every day, villages
    // enough for every usable day.
    let village = |i: usize| serde_json::json!({"code": format!("62012210020{i}"), "lat": 36.30 + 0.001 * i as f64, "lon": 103.90});
    let every_day: Vec<String> = (0..14)
        .map(|d| {
            (chrono::NaiveDate::from_ymd_opt(2026, 9, 28).unwrap() + chrono::Days::new(d))
                .to_string()
        })
        .collect();
    let instance = |weekends: bool| {
        serde_json::json!({
            "villages": (0..8).map(village).collect::<Vec<_>>(),
            "lecturers": [{"id": "L1", "home_lat": 36.30, "home_lon": 103.90, "topics": ["反家暴"],
                           "available": every_day, "unavailable": ["2026-09-29"], "max_per_day": 1}],
            "period": {"from": "2026-09-28", "to": "2026-10-11", "weekends": weekends},
            "day_start": "08:30", "day_end": "17:30", "session_minutes": 90,
            "speed_kmh": 40, "road_factor": 1.3, "topic": "反家暴"
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let dates_of = |weekends: bool| {
        let input = dir.path().join(format!("period-{weekends}.json"));
        std::fs::write(&input, instance(weekends).to_string()).unwrap();
        let out = succeeded(&[
            "tour",
            "solve",
            "--input",
            input.to_str().unwrap(),
            "--iterations",
            "50",
        ]);
        let schedule = dir.path().join(format!("schedule-{weekends}.json"));
        std::fs::write(&schedule, &out.stdout).unwrap();
        let checked = jinguo(
            &[
                "tour",
                "check",
                "--input",
                input.to_str().unwrap(),
                "--schedule",
                schedule.to_str().unwrap(),
            ],
            &[],
        );
        assert!(
            checked.status.success(),
            "{}",
            String::from_utf8_lossy(&checked.stdout)
        );
        let schedule: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut dates: Vec<String> = schedule["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["date"].as_str().unwrap().to_owned())
            .collect();
        dates.sort();
        dates
    };
    // 09-29 is a working day but the lecturer's own day off.
    assert_eq!(
        dates_of(false),
        [
            "2026-09-28",
            "2026-09-30",
            "2026-10-08",
            "2026-10-09",
            "2026-10-10"
        ]
    );
    assert_eq!(
        dates_of(true),
        [
            "2026-09-28",
            "2026-09-30",
            "2026-10-08",
            "2026-10-09",
            "2026-10-10",
            "2026-10-11"
        ]
    );
}

#[test]
fn tour_ics_writes_a_calendar_per_lecturer_that_a_calendar_library_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = solve_small(dir.path(), &["--iterations", "20"]);
    assert!(out.status.success());
    let schedule = dir.path().join("schedule.json");
    std::fs::write(&schedule, &out.stdout).unwrap();
    let calendars = dir.path().join("calendars");
    let args = |schedule: &std::path::Path| {
        vec![
            "tour".to_owned(),
            "ics".into(),
            "--input".into(),
            input.to_str().unwrap().into(),
            "--schedule".into(),
            schedule.to_str().unwrap().into(),
            "--out".into(),
            calendars.to_str().unwrap().into(),
            "--tour-id".into(),
            "yongdeng-2026-12".into(),
        ]
    };
    succeeded(
        &args(&schedule)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let ics = calendars.join("L1.ics");
    // Python's icalendar reads it (scripts/test installs it): one VEVENT per session, in
    // Asia/Shanghai time, with the village's name and a stable, distinct UID.
    let read = Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], "rb").read())
for e in cal.walk("VEVENT"):
    start = e.decoded("DTSTART")
    print(e["UID"], start.tzinfo, start.strftime("%Y-%m-%d %H:%M"), e.decoded("DTEND").strftime("%H:%M"), e["LOCATION"], e["SEQUENCE"], sep="|")
"#,
        )
        .arg(&ics)
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "icalendar: {}",
        String::from_utf8_lossy(&read.stderr)
    );
    let events: Vec<Vec<String>> = String::from_utf8_lossy(&read.stdout)
        .lines()
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sessions = plan["sessions"].as_array().unwrap();
    assert_eq!(events.len(), sessions.len());
    for s in sessions {
        let village = s["village"].as_str().unwrap();
        let event = events
            .iter()
            .find(|e| e[0] == format!("yongdeng-2026-12-{village}-1@jinguo"))
            .unwrap_or_else(|| panic!("no event for {village}: {events:?}"));
        assert_eq!(event[1], "Asia/Shanghai");
        assert_eq!(
            event[2],
            format!(
                "{} {}",
                s["date"].as_str().unwrap(),
                s["start"].as_str().unwrap()
            )
        );
        assert_eq!(event[3], s["end"].as_str().unwrap());
        assert!(
            ["甲村", "乙村", "丙村"].contains(&event[4].as_str()),
            "{event:?}"
        );
        assert_eq!(event[5], "0");
    }
    // A schedule that breaks a rule gets no calendar.
    let mut broken = plan.clone();
    broken["sessions"][0]["lecturer"] = "L9".into();
    let broken_path = dir.path().join("broken.json");
    std::fs::write(&broken_path, broken.to_string()).unwrap();
    let refused = jinguo(
        &args(&broken_path)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(refused.status.code(), Some(1));
    let lines = stderr_lines(&refused);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("fails its check"), "{lines:?}");
}

#[test]
fn tour_check_lists_what_a_hand_edited_schedule_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = solve_small(dir.path(), &["--iterations", "20"]);
    assert!(out.status.success());
    let schedule_file = dir.path().join("schedule.json");
    std::fs::write(&schedule_file, &out.stdout).unwrap();
    let check = |file: &std::path::Path| {
        jinguo(
            &[
                "tour",
                "check",
                "--input",
                input.to_str().unwrap(),
                "--schedule",
                file.to_str().unwrap(),
            ],
            &[],
        )
    };
    let ok = check(&schedule_file);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("ok: 3 of 3 villages covered"));

    // A coordinator moves the first talk to 08:30 sharp and onto a date L1 is not free.
    let mut schedule: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    schedule["sessions"][0]["start"] = "08:30".into();
    schedule["sessions"][0]["end"] = "10:00".into();
    schedule["sessions"][1]["date"] = "2026-12-05".into();
    let edited = dir.path().join("edited.json");
    std::fs::write(&edited, schedule.to_string()).unwrap();
    let bad = check(&edited);
    assert_eq!(bad.status.code(), Some(1));
    let report = String::from_utf8_lossy(&bad.stdout);
    assert!(report.contains("cannot reach"), "{report}");
    assert!(
        report.contains("L1 is not available on 2026-12-05"),
        "{report}"
    );
    let lines = stderr_lines(&bad);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("problems (listed on stdout)"),
        "{lines:?}"
    );
}

#[test]
fn a_generated_county_instance_is_fully_covered() {
    let dir = tempfile::tempdir().unwrap();
    let out = succeeded(&[
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
    ]);
    let instance: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let villages = instance["villages"].as_array().unwrap().len();
    assert_eq!(villages, 42, "皋兰县's villages in the shipped data");
    let input = dir.path().join("gaolan.json");
    std::fs::write(&input, &out.stdout).unwrap();
    let solved = succeeded(&[
        "tour",
        "solve",
        "--input",
        input.to_str().unwrap(),
        "--time-limit-ms",
        "500",
    ]);
    let schedule: serde_json::Value = serde_json::from_slice(&solved.stdout).unwrap();
    assert_eq!(schedule["stats"]["covered"], villages);
    let bad = jinguo(&["tour", "generate", "--county", "620122100"], &[]);
    assert_eq!(
        stderr_lines(&bad),
        ["error: --county: 620122100000 is not a county, city or province"]
    );
}

#[test]
fn output_into_a_closed_pipe_ends_quietly_and_a_full_disk_is_one_line() {
    // A reader that went away (`jinguo tour generate … | head -c 0`): the status a closed pipe
    // gives coreutils, and no panic on stderr. 定西市's instance is larger than a pipe's buffer,
    // so the write meets the closed pipe whichever comes first.
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jinguo"))
        .args(["tour", "generate", "--county", "6211"])
        .current_dir(dir.path())
        .env_clear()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Any other write error is one line and status 1.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_jinguo"))
        .args(["tour", "generate", "--county", "620121"])
        .current_dir(dir.path())
        .env_clear()
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("error: writing to standard output:"),
        "{lines:?}"
    );
}
