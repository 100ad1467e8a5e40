//! The processes of a run: starting `jinguo` commands, stopping every started process
//! (SIGTERM, then wait) on every exit path, and reading their CPU time and peak memory from
//! /proc, with the same readings for PostgreSQL, RabbitMQ and the driver itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How to run `jinguo`: the binary, its working directory and the environment every command
/// of the run shares.
#[derive(Debug, Clone)]
pub struct Jinguo {
    pub bin: PathBuf,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Jinguo {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .current_dir(&self.dir)
            // Only what we set: a JINGUO_* of the caller's shell must not change the run.
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c
    }

    /// Runs `jinguo ARGS` to completion; its stdout, or an error with its output.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self
            .command(args)
            .output()
            .with_context(|| format!("running {} {}", self.bin.display(), args.join(" ")))?;
        if !out.status.success() {
            bail!(
                "jinguo {} failed ({}): {}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// A started long-running process and where its output goes.
#[derive(Debug)]
pub struct Running {
    pub name: String,
    pub pid: u32,
    pub log: PathBuf,
    child: Child,
}

/// A process after it stopped.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub name: String,
    pub log: PathBuf,
    pub exit: String,
}

/// Every process the run started, shared with the Ctrl-C path; dropping it stops them all.
#[derive(Debug, Clone, Default)]
pub struct Procs(Arc<Mutex<Vec<Running>>>);

impl Procs {
    /// Starts `jinguo ARGS` in the background, stdout and stderr into `<dir>/<name>.log`.
    pub fn spawn(&self, jinguo: &Jinguo, name: &str, args: &[&str]) -> anyhow::Result<u32> {
        let log = jinguo.dir.join(format!("{name}.log"));
        let file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = jinguo
            .command(args)
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting jinguo {}", args.join(" ")))?;
        let pid = child.id();
        self.0.lock().expect("process list").push(Running {
            name: name.to_owned(),
            pid,
            log,
            child,
        });
        Ok(pid)
    }

    /// Name and pid of every process still registered.
    pub fn list(&self) -> Vec<(String, u32)> {
        let list = self.0.lock().expect("process list");
        list.iter().map(|r| (r.name.clone(), r.pid)).collect()
    }

    /// Fails when a started process has exited (it would only make the run hang).
    pub fn check_alive(&self) -> anyhow::Result<()> {
        let mut list = self.0.lock().expect("process list");
        for r in list.iter_mut() {
            if let Ok(Some(status)) = r.child.try_wait() {
                bail!(
                    "jinguo {} exited early ({status}):\n{}",
                    r.name,
                    log_tail(&r.log, 15)
                );
            }
        }
        Ok(())
    }

    /// The last `lines` of each running process's log, headed by its name: what a stalled run
    /// prints so that the reason (a broker that resets connections, say) is in the failure.
    pub fn log_tails(&self, lines: usize) -> String {
        let list = self.0.lock().expect("process list");
        list.iter()
            .map(|r| format!("--- {} ---\n{}", r.name, log_tail(&r.log, lines)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// SIGTERM to every process, then waits for each (SIGKILL after `grace`).
    pub fn stop_all(&self, grace: Duration) -> Vec<Stopped> {
        let mut list = std::mem::take(&mut *self.0.lock().expect("process list"));
        for r in &list {
            terminate(r.pid);
        }
        list.iter_mut()
            .map(|r| {
                let exit = wait_or_kill(&mut r.child, grace);
                Stopped {
                    name: r.name.clone(),
                    log: r.log.clone(),
                    exit,
                }
            })
            .collect()
    }
}

/// The last `lines` lines of a log file (empty when it cannot be read).
fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn terminate(pid: u32) {
    // std has no signals and the workspace has no libc: kill(1) sends SIGTERM.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn wait_or_kill(child: &mut Child, grace: Duration) -> String {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.to_string(),
            Ok(None) if started.elapsed() < grace => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                return match child.wait() {
                    Ok(s) => format!("killed after {grace:?} ({s})"),
                    Err(e) => format!("lost: {e}"),
                };
            }
        }
    }
}

/// The integer fields `statements` and `commits` of the `database work` events a process
/// logged as JSON when it stopped (summed; `None` when it logged none).
pub fn database_work(log: &Path) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(log).ok()?;
    let mut total: Option<(u64, u64)> = None;
    for line in text.lines().filter(|l| l.contains("database work")) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        // tracing-subscriber's JSON puts fields under "fields" unless flattened.
        let fields = v.get("fields").unwrap_or(&v);
        if fields.get("message").and_then(|m| m.as_str()) != Some("database work") {
            continue;
        }
        let get = |k: &str| fields.get(k).and_then(serde_json::Value::as_u64);
        if let (Some(s), Some(c)) = (get("statements"), get("commits")) {
            let t = total.get_or_insert((0, 0));
            t.0 += s;
            t.1 += c;
        }
    }
    total
}

/// Clock ticks per second for /proc/<pid>/stat times.
pub fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// (utime + stime, cutime + cstime, ppid) of a process, in ticks.
fn stat(pid: u32) -> Option<(u64, u64, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state): ppid = field 4, utime..cstime = fields 14..17.
    let n = |i: usize| f.get(i - 3).and_then(|s| s.parse::<u64>().ok());
    Some((n(14)? + n(15)?, n(16)? + n(17)?, n(4)? as u32))
}

fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// CPU ticks of one process (its own, not its children's).
pub fn own_ticks(pid: u32) -> Option<u64> {
    stat(pid).map(|s| s.0)
}

/// CPU ticks of every process called `name`, plus what the topmost of them collected from
/// children that exited (PostgreSQL's backends end with their connections; their time lands in
/// the postmaster's cutime).
pub fn ticks_named(name: &str) -> u64 {
    let all: Vec<(u32, (u64, u64, u32))> = pids()
        .into_iter()
        .filter(|&p| comm(p).as_deref() == Some(name))
        .filter_map(|p| Some((p, stat(p)?)))
        .collect();
    let ours: std::collections::HashSet<u32> = all.iter().map(|(p, _)| *p).collect();
    all.iter()
        .map(|(_, (own, children, ppid))| own + if ours.contains(ppid) { 0 } else { *children })
        .sum()
}

/// Peak resident memory (VmHWM) of a process in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU ticks of everything a run measures, at one instant.
#[derive(Debug, Clone)]
pub struct CpuSnapshot {
    pub by_process: BTreeMap<String, u64>,
}

impl CpuSnapshot {
    /// Each Jinguo process by name, `postgres` and `rabbitmq` when `services`, and `driver`.
    pub fn take(procs: &Procs, services: bool) -> CpuSnapshot {
        let mut by_process = BTreeMap::new();
        for (name, pid) in procs.list() {
            by_process.insert(format!("jinguo {name}"), own_ticks(pid).unwrap_or(0));
        }
        if services {
            by_process.insert("postgres".into(), ticks_named("postgres"));
            by_process.insert("rabbitmq".into(), ticks_named("beam.smp"));
        }
        by_process.insert("driver".into(), own_ticks(std::process::id()).unwrap_or(0));
        CpuSnapshot { by_process }
    }

    /// Milliseconds of CPU per process between `self` and a later `after`.
    pub fn ms_until(&self, after: &CpuSnapshot, ticks_per_s: u64) -> BTreeMap<String, f64> {
        after
            .by_process
            .iter()
            .map(|(k, v)| {
                let before = self.by_process.get(k).copied().unwrap_or(0);
                let ticks = v.saturating_sub(before);
                (k.clone(), ticks as f64 * 1000.0 / ticks_per_s as f64)
            })
            .collect()
    }
}
