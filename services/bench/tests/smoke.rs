//! The bench runs a small workflow end to end on each path and its numbers say the workflow
//! worked: every review mail sent once, no error answers, every nomination in 公示. Nothing is
//! asserted about time. PostgreSQL and RabbitMQ must be up (the bench's default URLs): without
//! them these tests fail, they do not skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

const BENCH: &str = env!("CARGO_BIN_EXE_jinguo-bench");

/// `jinguo` beside the bench (the bench's default `--jinguo`), built by cargo when missing —
/// `cargo test -p jinguo-bench` builds only this package's binaries.
fn ensure_jinguo() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = Path::new(BENCH).parent().expect("bench binary directory");
        let jinguo = dir.join(format!("jinguo{}", std::env::consts::EXE_SUFFIX));
        if jinguo.exists() {
            return;
        }
        // target/<profile>/jinguo-bench: the target directory is two levels up.
        let target: PathBuf = dir.parent().expect("target directory").to_owned();
        let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build
            .args(["build", "-p", "jinguo"])
            .env("CARGO_TARGET_DIR", &target);
        if dir.file_name().is_some_and(|p| p == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build -p jinguo");
        assert!(status.success(), "cargo build -p jinguo failed");
        assert!(jinguo.exists(), "{} still missing", jinguo.display());
    });
}

/// Runs `jinguo-bench workflow ARGS` and returns its last stdout line as JSON.
fn bench(args: &[&str]) -> Value {
    ensure_jinguo();
    let out = Command::new(BENCH)
        .arg("workflow")
        .args(args)
        .output()
        .expect("run jinguo-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "jinguo-bench {args:?} failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
    let last = stdout.lines().last().expect("some output");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last}"))
}

fn assert_workflow_complete(r: &Value) {
    let mails = &r["mails"];
    assert_eq!(mails["review_sent"], mails["expected"], "{r}");
    assert_eq!(mails["duplicates"], 0, "{r}");
    assert_eq!(mails["extra_review"], 0, "{r}");
    assert_eq!(r["errors"], serde_json::json!({}), "error answers: {r}");
    let last = &r["final"];
    assert_eq!(last["in_publicity"], last["expected"], "{r}");
    assert_eq!(last["submitted"], last["expected"], "{r}");
    for phase in ["full", "half"] {
        assert_eq!(r[phase]["latency_ms"]["missing"], 0, "{phase}: {r}");
        assert_eq!(
            r[phase]["transitions"].as_u64(),
            r[phase]["nominations"].as_u64().map(|n| n * 4),
            "a submission and three decisions per nomination: {r}"
        );
    }
}

#[test]
fn workflow_on_postgres_and_rabbitmq_sends_every_mail_once() {
    let r = bench(&[
        "--nominations",
        "30",
        "--reviewers",
        "5",
        "--raw-seconds",
        "0.5",
    ]);
    assert_eq!(r["mode"], "postgres+rabbitmq");
    assert_workflow_complete(&r);
    assert!(r["raw"]["postgres_commits_per_s"].as_f64().unwrap() > 0.0);
    assert!(r["raw"]["rabbitmq_confirms_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn workflow_embedded_with_file_mail_sends_every_mail_once() {
    let r = bench(&[
        "--nominations",
        "30",
        "--reviewers",
        "5",
        "--embedded",
        "--raw-seconds",
        "0.5",
    ]);
    assert_eq!(r["mode"], "embedded");
    assert_workflow_complete(&r);
    assert!(r["raw"]["sqlite_commits_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn workflow_embedded_with_smtp_sends_every_mail_once() {
    let r = bench(&[
        "--nominations",
        "30",
        "--reviewers",
        "5",
        "--embedded",
        "--smtp",
        "--raw-seconds",
        "0.5",
    ]);
    assert_eq!(r["mode"], "embedded+smtp");
    assert_workflow_complete(&r);
}
