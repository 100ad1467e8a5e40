//! The people: nominators who submit through the API and reviewers who open each emailed link
//! (GET), read the form's csrf value and approve (POST), village → township → county.
//!
//! Every mail the sink accepts goes through [`Driver::dispatch`]: it is matched to its
//! nomination by the family head's name (`李<n>`, unique per nomination) and its level, its
//! arrival is noted, and it becomes a work item on the one queue every reviewer shares. The
//! latency of a step is the arrival of the next level's mail minus the instant the answer to
//! the step's HTTP request (the submission, or the previous level's decision) came back.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinSet;

use crate::mime;
use crate::procs::Procs;
use crate::sink::Mail;

/// Levels a nomination climbs; after the county's approval it goes to 公示, which mails nobody.
pub const LEVELS: u8 = 3;

/// How long nothing may move before a phase is given up as stuck.
const STALL: Duration = Duration::from_secs(60);

/// Tries per request when the answer is an error; each failure is counted.
const ATTEMPTS: u32 = 10;

/// One emailed review link to act on.
#[derive(Debug)]
struct Work {
    nomination: u64,
    level: u8,
    link: String,
}

/// What happened, as the driver saw it.
#[derive(Debug, Default)]
struct Book {
    /// (nomination, level) → when the request that should lead to that level's mail was
    /// answered: level 0 the submission, 1 the village decision, 2 the township decision.
    answers: HashMap<(u64, u8), Instant>,
    /// (nomination, level) → when that level's review mail arrived (the first, if several).
    arrivals: HashMap<(u64, u8), Instant>,
    message_ids: HashSet<String>,
    duplicates: u64,
    review_mails: u64,
    /// Review mails for a (nomination, level) that already had one, under another Message-ID.
    extra_review_mails: u64,
    other_mails: u64,
    /// Review mails per recipient: how the load spread over the reviewers.
    per_recipient: HashMap<String, u64>,
    ids: HashMap<u64, String>,
    /// Non-2xx answers and transport errors, by request and status.
    errors: BTreeMap<String, u64>,
    last_progress: Option<Instant>,
    last_final: Option<Instant>,
}

/// The mail counts of a run.
#[derive(Debug, Clone, Copy)]
pub struct MailCounts {
    pub review: u64,
    pub extra_review: u64,
    pub other: u64,
    pub duplicates: u64,
    pub recipients: usize,
}

/// One phase's span and size.
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    pub first: u64,
    pub count: u64,
    pub seconds: f64,
    /// Submissions plus decisions answered with 2xx.
    pub transitions: u64,
}

impl Phase {
    pub fn per_second(&self) -> f64 {
        self.transitions as f64 / self.seconds.max(1e-9)
    }
}

/// Answer → next mail, in milliseconds, for one phase.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    /// Every step (submission → village mail, village → township, township → county).
    pub all: Vec<f64>,
    /// By the level whose mail ends the step.
    pub by_level: [Vec<f64>; 3],
    /// Mails accepted before the driver had read the HTTP answer (counted as 0 ms).
    pub mail_first: u64,
    /// Steps whose mail never came.
    pub missing: u64,
}

pub struct Driver {
    client: reqwest::Client,
    base: String,
    token: String,
    campaign: String,
    villages: Vec<String>,
    book: Mutex<Book>,
    work_tx: UnboundedSender<Work>,
    work_rx: tokio::sync::Mutex<UnboundedReceiver<Work>>,
    /// Nominations whose county decision was answered 2xx.
    finals: AtomicU64,
    transitions: AtomicU64,
}

impl Driver {
    pub fn new(
        client: reqwest::Client,
        base: String,
        token: String,
        campaign: String,
        villages: Vec<String>,
    ) -> Arc<Driver> {
        let (work_tx, work_rx) = unbounded_channel();
        Arc::new(Driver {
            client,
            base,
            token,
            campaign,
            villages,
            book: Mutex::new(Book::default()),
            work_tx,
            work_rx: tokio::sync::Mutex::new(work_rx),
            finals: AtomicU64::new(0),
            transitions: AtomicU64::new(0),
        })
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().expect("driver book")
    }

    /// Reads every mail the sink hands over, for as long as the sink runs.
    pub fn dispatch(self: &Arc<Self>, mut mails: UnboundedReceiver<Mail>) {
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(mail) = mails.recv().await {
                me.arrived(mail);
            }
        });
    }

    fn arrived(&self, mail: Mail) {
        let mut book = self.book();
        book.last_progress = Some(mail.at);
        if let Some(id) = &mail.parsed.message_id
            && !book.message_ids.insert(id.clone())
        {
            book.duplicates += 1;
            return;
        }
        let text = &mail.parsed.text;
        let (Some(nomination), Some(level), Some(link)) = (
            mime::family_number(text),
            mime::review_level(text),
            mail.parsed.links.first(),
        ) else {
            book.other_mails += 1; // welcome mails of the staff import, notices
            return;
        };
        book.review_mails += 1;
        for r in &mail.recipients {
            *book.per_recipient.entry(r.clone()).or_insert(0) += 1;
        }
        if book.arrivals.contains_key(&(nomination, level)) {
            book.extra_review_mails += 1;
            return;
        }
        book.arrivals.insert((nomination, level), mail.at);
        let _ = self.work_tx.send(Work {
            nomination,
            level,
            link: link.clone(),
        });
    }

    fn error(&self, what: String) {
        *self.book().errors.entry(what).or_insert(0) += 1;
    }

    fn answered(&self, key: (u64, u8), at: Instant) {
        self.transitions.fetch_add(1, Ordering::Relaxed);
        let mut book = self.book();
        book.answers.insert(key, at);
        book.last_progress = Some(at);
        if key.1 == LEVELS {
            book.last_final = Some(at);
        }
    }

    /// Submits nomination `n` through the API, retrying an error answer.
    async fn submit(&self, n: u64) {
        let village = &self.villages[n as usize % self.villages.len()];
        let body = serde_json::json!({
            "campaign_id": self.campaign, "village": village, "category": "最美家庭",
            "channel": "organization",
            "family": { "head_name": format!("李{n}"), "head_id": format!("139{:08}", n % 100_000_000),
                        "address": "皋兰县某村" },
            "story": "李秀英一家孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，带动乡邻共同建设美丽庭院，是远近闻名的好家庭。"
        });
        for _ in 0..ATTEMPTS {
            let sent = self
                .client
                .post(format!("{}/api/v1/nominations", self.base))
                .bearer_auth(&self.token)
                .json(&body)
                .send()
                .await;
            let at = Instant::now();
            match sent {
                Ok(r) if r.status().is_success() => {
                    self.answered((n, 0), at);
                    let id = r
                        .json::<serde_json::Value>()
                        .await
                        .ok()
                        .and_then(|v| v["id"].as_str().map(str::to_owned));
                    if let Some(id) = id {
                        self.book().ids.insert(n, id);
                    }
                    return;
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    self.error(format!("POST /api/v1/nominations {status}"));
                    if status / 100 == 4 && status != 429 {
                        return; // a refusal does not change by asking again
                    }
                }
                Err(e) => self.error(format!("POST /api/v1/nominations {}", kind(&e))),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens a review link and approves, retrying an error answer.
    async fn decide(&self, w: Work) {
        for _ in 0..ATTEMPTS {
            let page = match self.client.get(&w.link).send().await {
                Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
                Ok(r) => {
                    let status = r.status().as_u16();
                    self.error(format!("GET /link/… {status}"));
                    if status == 409 || status == 404 {
                        return; // used, superseded or unknown: nothing to decide
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => {
                    self.error(format!("GET /link/… {}", kind(&e)));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(csrf) = csrf_of(&page) else {
                self.error("GET /link/… 200 without a form".into());
                return;
            };
            let sent = self
                .client
                .post(&w.link)
                .form(&[("csrf", csrf.as_str()), ("decision", "approve")])
                .send()
                .await;
            let at = Instant::now();
            match sent {
                Ok(r) if r.status().is_success() => {
                    self.answered((w.nomination, w.level + 1), at);
                    if w.level + 1 == LEVELS {
                        self.finals.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = r.bytes().await; // frees the connection for the next request
                    return;
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    self.error(format!("POST /link/… {status}"));
                    if status == 409 {
                        return;
                    }
                }
                Err(e) => self.error(format!("POST /link/… {}", kind(&e))),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Full load: `reviewers` tasks first submit nominations `first..first+count` (one at a
    /// time each), then take review links off the shared queue as they arrive, until every
    /// nomination of the phase has its county decision.
    pub async fn closed_loop(
        self: &Arc<Self>,
        first: u64,
        count: u64,
        reviewers: usize,
        procs: &Procs,
    ) -> anyhow::Result<Phase> {
        let started = Instant::now();
        self.book().last_progress = Some(started);
        let before = self.transitions.load(Ordering::Relaxed);
        let next = Arc::new(AtomicU64::new(first));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = JoinSet::new();
        for _ in 0..reviewers {
            let (me, next, stop) = (self.clone(), next.clone(), stop.clone());
            tasks.spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n < first + count {
                        me.submit(n).await;
                        continue;
                    }
                    let item = {
                        let mut rx = me.work_rx.lock().await;
                        tokio::time::timeout(Duration::from_millis(20), rx.recv()).await
                    };
                    match item {
                        Ok(Some(w)) => me.decide(w).await,
                        Ok(None) => return,
                        Err(_) if stop.load(Ordering::Relaxed) => return,
                        Err(_) => {}
                    }
                }
            });
        }
        let waited = self.wait_finals(first + count, procs).await;
        let seconds = self.seconds_since(started);
        stop.store(true, Ordering::Relaxed);
        while tasks.join_next().await.is_some() {}
        waited?;
        Ok(Phase {
            first,
            count,
            seconds,
            transitions: self.transitions.load(Ordering::Relaxed) - before,
        })
    }

    /// Half load, open loop: one request every `1 / rate` seconds whatever the answers — a
    /// review link when one waits, else the next submission — each in a task of its own.
    pub async fn open_loop(
        self: &Arc<Self>,
        first: u64,
        count: u64,
        rate: f64,
        procs: &Procs,
    ) -> anyhow::Result<Phase> {
        let started = Instant::now();
        self.book().last_progress = Some(started);
        let before = self.transitions.load(Ordering::Relaxed);
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut next = first;
        let mut tasks = JoinSet::new();
        let mut checked = Instant::now();
        while self.finals.load(Ordering::Relaxed) < first + count {
            tick.tick().await;
            let item = self.work_rx.lock().await.try_recv();
            if let Ok(w) = item {
                let me = self.clone();
                tasks.spawn(async move { me.decide(w).await });
            } else if next < first + count {
                let (me, n) = (self.clone(), next);
                tasks.spawn(async move { me.submit(n).await });
                next += 1;
            }
            while tasks.try_join_next().is_some() {}
            if checked.elapsed() > Duration::from_millis(500) {
                checked = Instant::now();
                self.check_progress(procs)?;
            }
        }
        let seconds = self.seconds_since(started);
        while tasks.join_next().await.is_some() {}
        Ok(Phase {
            first,
            count,
            seconds,
            transitions: self.transitions.load(Ordering::Relaxed) - before,
        })
    }

    async fn wait_finals(&self, until: u64, procs: &Procs) -> anyhow::Result<()> {
        while self.finals.load(Ordering::Relaxed) < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.check_progress(procs)?;
        }
        Ok(())
    }

    /// From `started` to the last county decision's answer: the phase's wall time.
    fn seconds_since(&self, started: Instant) -> f64 {
        let last = self.book().last_final.unwrap_or_else(Instant::now);
        last.saturating_duration_since(started).as_secs_f64()
    }

    fn check_progress(&self, procs: &Procs) -> anyhow::Result<()> {
        procs.check_alive()?;
        let book = self.book();
        if let Some(last) = book.last_progress
            && last.elapsed() > STALL
        {
            bail!(
                "nothing moved for {STALL:?}: {} decisions and submissions answered, {} review \
                 mails, {} nominations final; errors: {:?}\nthe services' logs end:\n{}",
                book.answers.len(),
                book.review_mails,
                self.finals.load(Ordering::Relaxed),
                book.errors,
                procs.log_tails(8)
            );
        }
        Ok(())
    }

    /// Latencies of the nominations of `phase`.
    pub fn latencies(&self, phase: &Phase) -> Latencies {
        let book = self.book();
        let mut out = Latencies::default();
        for n in phase.first..phase.first + phase.count {
            for level in 0..LEVELS {
                let (Some(answer), Some(mail)) = (
                    book.answers.get(&(n, level)),
                    book.arrivals.get(&(n, level)),
                ) else {
                    out.missing += 1;
                    continue;
                };
                if mail < answer {
                    out.mail_first += 1;
                }
                let ms = mail.saturating_duration_since(*answer).as_secs_f64() * 1000.0;
                out.all.push(ms);
                out.by_level[level as usize].push(ms);
            }
        }
        out
    }

    pub fn mails(&self) -> MailCounts {
        let book = self.book();
        MailCounts {
            review: book.review_mails,
            extra_review: book.extra_review_mails,
            other: book.other_mails,
            duplicates: book.duplicates,
            recipients: book.per_recipient.len(),
        }
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.book().errors.clone()
    }

    /// Asks the API for every submitted nomination's state: how many are in 公示
    /// (`publicity`), the state after the county's approval, out of how many asked.
    pub async fn final_states(self: &Arc<Self>, concurrency: usize) -> (u64, u64) {
        let ids: Vec<String> = self.book().ids.values().cloned().collect();
        let asked = ids.len() as u64;
        let permits = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for id in ids {
            let (me, permits) = (self.clone(), permits.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire().await;
                let r = me
                    .client
                    .get(format!("{}/api/v1/nominations/{id}", me.base))
                    .bearer_auth(&me.token)
                    .send()
                    .await
                    .ok()?;
                let v: serde_json::Value = r.json().await.ok()?;
                Some(v["state"].as_str() == Some("publicity"))
            });
        }
        let mut published = 0;
        while let Some(done) = tasks.join_next().await {
            if let Ok(Some(true)) = done {
                published += 1;
            }
        }
        (published, asked)
    }
}

/// The csrf value of the first form in a page.
fn csrf_of(html: &str) -> Option<String> {
    const MARK: &str = "name=\"csrf\" value=\"";
    let at = html.find(MARK)? + MARK.len();
    html[at..].split('"').next().map(str::to_owned)
}

/// A transport error in a word, for the error table.
fn kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect error"
    } else {
        "transport error"
    }
}
