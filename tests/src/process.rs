//! The real `jinguo` binary, started as an operator would start it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/jinguo`, which `cargo test --workspace` builds (the jinguo package has
/// integration tests, so cargo builds its binary before running any test).
pub fn jinguo_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    // target/<profile>/deps/<test> → target/<profile>/jinguo
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps")
        .join(format!("jinguo{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds it",
        bin.display()
    );
    bin
}

/// Runs `jinguo ARGS` to completion in `dir` with `env` added, and returns its output.
pub fn run_jinguo(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(jinguo_bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run jinguo")
}

/// A running `jinguo serve`; killed when dropped if still running.
pub struct JinguoProcess {
    child: Child,
    pub base_url: String,
    pub dir: tempfile::TempDir,
}

impl JinguoProcess {
    /// Starts `jinguo` (no arguments: `serve`) in a fresh working directory on a free port with
    /// `env` added, and waits until `/healthz` answers.
    pub async fn start(env: &[(&str, &str)]) -> JinguoProcess {
        let dir = tempfile::tempdir().expect("temp dir");
        JinguoProcess::start_in(dir, env).await
    }

    pub async fn start_in(dir: tempfile::TempDir, env: &[(&str, &str)]) -> JinguoProcess {
        JinguoProcess::start_with(&[], dir, env).await
    }

    /// Starts `jinguo ARGS…` in `dir` (see [`JinguoProcess::start`]).
    pub async fn start_with(
        args: &[&str],
        dir: tempfile::TempDir,
        env: &[(&str, &str)],
    ) -> JinguoProcess {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(dir.path().join("jinguo.log")).expect("log file");
        let child = Command::new(jinguo_bin())
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("JINGUO_HTTP__ADDR", &addr)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start jinguo");
        let mut process = JinguoProcess {
            child,
            base_url: format!("http://{addr}"),
            dir,
        };
        process.wait_healthy(Duration::from_secs(60)).await;
        process
    }

    async fn wait_healthy(&mut self, limit: Duration) {
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "jinguo exited with {status} before serving:\n{}",
                    self.log()
                );
            }
            if let Ok(r) = client
                .get(format!("{}/healthz", self.base_url))
                .send()
                .await
                && r.status().is_success()
            {
                return;
            }
            if started.elapsed() > limit {
                panic!(
                    "jinguo did not answer /healthz within {limit:?}:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Everything the process printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("jinguo.log")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for jinguo") {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "jinguo did not stop within 30 s of SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for JinguoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}
