//! Signed checkpoints of the audit chain's head: what the chain alone cannot see (its newest rows
//! deleted, or deleted and forged anew) fails `jinguo audit verify` once a checkpoint names
//! them; an edited checkpoint fails too; the scheduler's process and `serve` write them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use jinguo_auth::checkpoint::{self, Signed};
use jinguo_store::Store;
use jinguo_store::audit::{self, Entry};
use jinguo_tests::{
    Backend, Contents, JinguoProcess, TestDb, jinguo_bin, on_both_backends, run_jinguo,
};

/// Where the embedded default keeps the checkpoint, relative to the working directory.
const CHECKPOINT_FILE: &str = "data/audit-checkpoint.json";

/// An operator's working directory over a fresh database.
struct Operator {
    db: TestDb,
    store: Store,
    dir: tempfile::TempDir,
}

impl Operator {
    async fn new(backend: Backend) -> Operator {
        let db = TestDb::new(backend, Contents::Empty).await;
        let store = db.store().await;
        Operator {
            db,
            store,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn jinguo(&self, args: &[&str]) -> Output {
        self.jinguo_with(args, &[])
    }

    fn jinguo_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let url = self.db.url();
        let mut env = vec![("JINGUO_DATABASE__URL", url.as_str())];
        env.extend_from_slice(extra);
        run_jinguo(self.dir.path(), args, &env)
    }

    fn checkpoint_path(&self) -> PathBuf {
        self.dir.path().join(CHECKPOINT_FILE)
    }

    fn checkpoint(&self) -> Option<Signed> {
        checkpoint::load(&self.checkpoint_path()).unwrap()
    }

    /// Appends `n` audit rows the way the application does.
    async fn append(&self, n: usize) {
        append(&self.store, n).await;
    }

    async fn rows(&self) -> Vec<Entry> {
        rows(&self.store).await
    }

    /// What the hash chain alone says: `Ok(rows)` while it is whole.
    async fn chain(&self) -> Result<usize, audit::Break> {
        self.store
            .read(|c| Box::pin(audit::verify(c)))
            .await
            .unwrap()
    }
}

async fn append(store: &Store, n: usize) {
    for i in 0..n {
        store
            .transaction(move |c| {
                Box::pin(async move {
                    jinguo_auth::record(
                        c,
                        "test",
                        "test.event",
                        &format!("subject-{i}"),
                        serde_json::json!({ "i": i }),
                        jinguo_bus::now(),
                    )
                    .await
                })
            })
            .await
            .unwrap();
    }
}

async fn rows(store: &Store) -> Vec<Entry> {
    store
        .read(|c| Box::pin(audit::page(c, 0, 10_000)))
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_owned()
}

async fn deleting_the_newest_rows_after_a_checkpoint_fails_verify(backend: Backend) {
    let op = Operator::new(backend).await;
    op.append(5).await;
    let written = op.jinguo(&["audit", "checkpoint"]);
    assert!(written.status.success(), "{}", stderr(&written));
    let rows = op.rows().await;
    let head = rows.last().unwrap();
    assert!(
        stdout(&written).contains(&format!("row {}, 5 rows", head.seq)),
        "{}",
        stdout(&written)
    );
    // The checkpoint is in the log too, with its MAC.
    let signed = op.checkpoint().expect("a checkpoint file");
    assert_eq!(signed.checkpoint.seq, head.seq);
    assert_eq!(signed.checkpoint.hash, head.hash);
    assert!(
        stderr(&written).contains("audit checkpoint written")
            && stderr(&written).contains(&signed.mac),
        "{}",
        stderr(&written)
    );
    op.append(2).await;

    // Someone with database access removes the four newest rows, the checkpointed one among them.
    let keep = op.rows().await[2].seq;
    op.db
        .execute(&format!("DELETE FROM audit_log WHERE seq > {keep}"))
        .await;
    assert_eq!(op.chain().await, Ok(3), "the chain alone sees nothing");

    let verify = op.jinguo(&["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(1), "{}", stdout(&verify));
    assert!(
        stderr(&verify).starts_with(&format!(
            "error: audit log truncated or rewritten: checkpoint row {} is missing",
            head.seq
        )),
        "{}",
        stderr(&verify)
    );
    assert_eq!(stderr(&verify).lines().count(), 1, "{}", stderr(&verify));

    // Nor does a new checkpoint paper over it: the file stays as the evidence.
    let before = std::fs::read(op.checkpoint_path()).unwrap();
    let again = op.jinguo(&["audit", "checkpoint"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("no new audit checkpoint written")
            && stderr(&again).contains(&format!("checkpoint row {} is missing", head.seq)),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(op.checkpoint_path()).unwrap(), before);
}

async fn newest_rows_deleted_and_forged_anew_fail_verify(backend: Backend) {
    let op = Operator::new(backend).await;
    op.append(4).await;
    assert!(op.jinguo(&["audit", "checkpoint"]).status.success());
    let rows = op.rows().await;
    let checkpointed = rows.last().unwrap().clone();

    // The newest row is deleted, a forged one appended in its place (a whole chain: it follows
    // the row before) and given the deleted row's number.
    op.db
        .execute(&format!(
            "DELETE FROM audit_log WHERE seq = {}",
            checkpointed.seq
        ))
        .await;
    op.append(1).await;
    let forged = op.rows().await.last().unwrap().seq;
    op.db
        .execute(&format!(
            "UPDATE audit_log SET seq = {} WHERE seq = {forged}",
            checkpointed.seq
        ))
        .await;
    assert_eq!(op.chain().await, Ok(4), "the chain alone sees nothing");

    let verify = op.jinguo(&["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(1));
    let found = op.rows().await.last().unwrap().hash.clone();
    assert_eq!(
        stderr(&verify),
        format!(
            "error: audit log truncated or rewritten: checkpoint row {} has hash {found}, \
             the checkpoint of {} says {}",
            checkpointed.seq,
            op.checkpoint()
                .unwrap()
                .checkpoint
                .at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            checkpointed.hash
        )
    );
}

async fn an_edited_checkpoint_file_fails_verify(backend: Backend) {
    let op = Operator::new(backend).await;
    op.append(5).await;
    assert!(op.jinguo(&["audit", "checkpoint"]).status.success());
    let path = op.checkpoint_path();
    let original = std::fs::read_to_string(&path).unwrap();

    // Moved back to an earlier row (to hide a truncation), the MAC left as it was.
    let mut moved: serde_json::Value = serde_json::from_str(&original).unwrap();
    let earlier = op.rows().await[1].clone();
    moved["seq"] = earlier.seq.into();
    moved["hash"] = earlier.hash.into();
    moved["count"] = 2.into();
    std::fs::write(&path, moved.to_string()).unwrap();
    let verify = op.jinguo(&["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(1));
    assert_eq!(
        stderr(&verify),
        format!("error: audit checkpoint signature does not verify ({CHECKPOINT_FILE})")
    );

    // Not a checkpoint at all.
    std::fs::write(&path, "{\"seq\": 1").unwrap();
    let verify = op.jinguo(&["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(1));
    assert!(
        stderr(&verify).starts_with(&format!(
            "error: the audit checkpoint {CHECKPOINT_FILE} is not a checkpoint: "
        )),
        "{}",
        stderr(&verify)
    );

    // Intact, but checked under another key.
    std::fs::write(&path, &original).unwrap();
    let verify = op.jinguo_with(
        &["audit", "verify"],
        &[("JINGUO_AUDIT__CHECKPOINT_KEY", "some-other-checkpoint-key")],
    );
    assert_eq!(verify.status.code(), Some(1));
    assert_eq!(
        stderr(&verify),
        format!("error: audit checkpoint signature does not verify ({CHECKPOINT_FILE})")
    );
    // A signature that does not verify is never replaced by a new checkpoint.
    op.append(1).await;
    let write = op.jinguo_with(
        &["audit", "checkpoint"],
        &[("JINGUO_AUDIT__CHECKPOINT_KEY", "some-other-checkpoint-key")],
    );
    assert_eq!(write.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
}

async fn an_intact_log_with_a_checkpoint_verifies(backend: Backend) {
    let op = Operator::new(backend).await;
    let empty = op.jinguo(&["audit", "checkpoint"]);
    assert!(empty.status.success(), "{}", stderr(&empty));
    assert!(stdout(&empty).contains("no checkpoint written"));
    assert!(op.checkpoint().is_none());

    op.append(5).await;
    assert!(op.jinguo(&["audit", "checkpoint"]).status.success());
    let checkpointed = op.rows().await.last().unwrap().clone();
    // Rows after the checkpoint are what the next one will cover.
    op.append(2).await;
    let verify = op.jinguo(&["audit", "verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert_eq!(stderr(&verify), "");
    assert!(
        stdout(&verify).contains("intact): 7 rows; matches the checkpoint of ")
            && stdout(&verify).contains(&format!(
                "(row {}, 5 rows, hash {})",
                checkpointed.seq, checkpointed.hash
            )),
        "{}",
        stdout(&verify)
    );

    // The next checkpoint moves on to the new head; with nothing new, it stays.
    let moved = op.jinguo(&["audit", "checkpoint"]);
    let head = op.rows().await.last().unwrap().clone();
    assert!(
        stdout(&moved).contains(&format!("written): row {}, 7 rows", head.seq)),
        "{}",
        stdout(&moved)
    );
    let same = op.jinguo(&["audit", "checkpoint"]);
    assert!(
        stdout(&same).contains(&format!("up to date): row {}, 7 rows", head.seq)),
        "{}",
        stdout(&same)
    );
    let verify = op.jinguo(&["audit", "verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
}

async fn without_a_checkpoint_verify_reports_the_chain_and_says_so(backend: Backend) {
    let op = Operator::new(backend).await;
    op.append(3).await;
    let verify = op.jinguo(&["audit", "verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(stdout(&verify).contains("intact): 3 rows"));
    assert_eq!(
        stderr(&verify),
        format!(
            "no audit checkpoint at {CHECKPOINT_FILE}: rows deleted from the end of the log \
             cannot be detected (write one with `jinguo audit checkpoint`)"
        )
    );
}

/// A process started in the background: SIGTERM, then killed if still there when dropped.
struct Background {
    child: Child,
    log: PathBuf,
}

impl Background {
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Background {
        let log = dir.join("jinguo.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(jinguo_bin())
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start jinguo");
        Background { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the checkpoint in `path` names `seq`; fails with the process's `log` after 30 s.
async fn checkpoint_reaches(path: &Path, seq: i64, log: impl Fn() -> String) -> Signed {
    let started = std::time::Instant::now();
    loop {
        if let Some(s) = checkpoint::load(path).ok().flatten()
            && s.checkpoint.seq == seq
        {
            return s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no checkpoint of row {seq} in {} within 30 s:\n{}",
            path.display(),
            log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn the_scheduler_process_checkpoints_the_log_as_it_grows(backend: Backend) {
    let op = Operator::new(backend).await;
    op.append(3).await;
    let url = op.db.url();
    let mut reminders = Background::start(
        op.dir.path(),
        &["run", "reminders"],
        &[
            ("JINGUO_DATABASE__URL", &url),
            ("JINGUO_AUDIT__CHECKPOINT_SECONDS", "1"),
        ],
    );
    let path = op.checkpoint_path();
    let first = op.rows().await.last().unwrap().seq;
    checkpoint_reaches(&path, first, || reminders.log()).await;

    op.append(2).await;
    let head = op.rows().await.last().unwrap().clone();
    let signed = checkpoint_reaches(&path, head.seq, || reminders.log()).await;
    assert_eq!(signed.checkpoint.hash, head.hash);
    assert_eq!(signed.checkpoint.count, 5);
    // The process writes the file, then logs it: the line may follow the file by a moment.
    let logged = || {
        let log = reminders.log();
        log.contains("audit checkpoint written") && log.contains(&signed.mac)
    };
    let started = std::time::Instant::now();
    while !logged() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(logged(), "{}", reminders.log());
    assert!(reminders.terminate().success(), "{}", reminders.log());

    let verify = op.jinguo(&["audit", "verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(
        stdout(&verify).contains(&format!("(row {}, 5 rows, hash {})", head.seq, head.hash)),
        "{}",
        stdout(&verify)
    );
}

async fn serve_checkpoints_the_log_when_it_stops(backend: Backend) {
    let db = TestDb::new(backend, Contents::Gansu).await;
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CHECKPOINT_FILE);
    let mut jinguo = JinguoProcess::start_in(
        dir,
        &[
            ("JINGUO_DATABASE__URL", &url),
            // Only the checkpoint at start-up and the one at shutdown fall in this test.
            ("JINGUO_AUDIT__CHECKPOINT_SECONDS", "3600"),
        ],
    )
    .await;
    let store = db.store().await;
    append(&store, 2).await;
    let head = rows(&store).await.last().unwrap().clone();
    assert!(jinguo.terminate().success(), "{}", jinguo.log());
    let signed = checkpoint::load(&path)
        .unwrap()
        .unwrap_or_else(|| panic!("no checkpoint after shutdown:\n{}", jinguo.log()));
    assert_eq!(
        (signed.checkpoint.seq, &signed.checkpoint.hash),
        (head.seq, &head.hash),
        "{}",
        jinguo.log()
    );
}

on_both_backends!(
    deleting_the_newest_rows_after_a_checkpoint_fails_verify,
    newest_rows_deleted_and_forged_anew_fail_verify,
    an_edited_checkpoint_file_fails_verify,
    an_intact_log_with_a_checkpoint_verifies,
    without_a_checkpoint_verify_reports_the_chain_and_says_so,
    the_scheduler_process_checkpoints_the_log_as_it_grows,
    serve_checkpoints_the_log_when_it_stops,
);
