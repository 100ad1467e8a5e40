//! A real headless Chromium driven over WebDriver (chromedriver), for tests that click through
//! pages as a reviewer on a phone would. scripts/test installs Debian's chromium and
//! chromium-driver.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct Browser {
    base: String,
    session: String,
    client: reqwest::Client,
    // Dropped after the session is closed (fields drop in order): stops what is left.
    _processes: Processes,
}

/// chromedriver and every Chromium process it started, known by the profile directory only they
/// use: all of them are stopped when this is dropped — also when a test fails half-way, or
/// before the browser session even exists.
struct Processes {
    driver: Child,
    profile: tempfile::TempDir,
}

impl Drop for Processes {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Chromium outlives a killed driver: end every process started with our profile.
        let marker = self.profile.path().to_string_lossy().into_owned();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&marker) {
                    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                }
            }
        }
    }
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// Starts chromedriver and a headless Chromium with a phone-sized window.
    pub async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let profile = tempfile::tempdir().unwrap();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (scripts/test installs chromium-driver)");
        let processes = Processes { driver, profile };
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            format!("--user-data-dir={}", processes.profile.path().display()),
        ];
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args }
        } } });
        let created: Value = client
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created}"))
            .to_owned();
        let browser = Browser {
            base,
            session,
            client,
            _processes: processes,
        };
        browser
            .command("window/rect", json!({ "width": 390, "height": 844 }))
            .await;
        browser
    }

    async fn command(&self, path: &str, body: Value) -> Value {
        let r = self.try_command(path, body).await;
        assert!(r["value"].get("error").is_none(), "{path}: {r}");
        r["value"].clone()
    }

    /// A WebDriver GET under this session (`url`, `source`, `screenshot`, …).
    async fn get(&self, path: &str) -> Value {
        let url = format!("{}/session/{}/{path}", self.base, self.session);
        self.client
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn try_command(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}/{path}", self.base, self.session);
        self.client
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Finds the first element matching a CSS selector and sends it `action` (`click`,
    /// `value`). A click that submits a form returns before the next page has replaced the
    /// old one, so an element found in that moment may go stale or be missing: the pair is
    /// tried again until the new page answers (up to 10 s).
    async fn on_element(&self, css: &str, action: &str, body: Value) {
        self.on_element_by("css selector", css, action, body).await;
    }

    /// [`Browser::on_element`] with any WebDriver locator strategy (`css selector`,
    /// `partial link text`).
    async fn on_element_by(&self, using: &str, css: &str, action: &str, body: Value) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let found = self
                .try_command("element", json!({ "using": using, "value": css }))
                .await;
            let r = match found["value"][ELEMENT].as_str() {
                Some(id) => {
                    self.try_command(&format!("element/{id}/{action}"), body.clone())
                        .await
                }
                None => found,
            };
            let error = r["value"]["error"].as_str().unwrap_or_default();
            let passing = matches!(error, "stale element reference" | "no such element");
            if error.is_empty() {
                return;
            }
            assert!(
                passing && std::time::Instant::now() < deadline,
                "{action} {css}: {r}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub async fn goto(&self, url: &str) {
        self.command("url", json!({ "url": url })).await;
    }

    /// Clicks the first element matching a CSS selector.
    pub async fn click(&self, css: &str) {
        self.on_element(css, "click", json!({})).await;
    }

    /// Follows the first link whose visible text contains `text`: how a person finds their way,
    /// by the words on the page rather than an address.
    pub async fn click_link(&self, text: &str) {
        self.on_element_by("partial link text", text, "click", json!({}))
            .await;
    }

    /// Empties the field matching a CSS selector.
    pub async fn clear(&self, css: &str) {
        self.on_element(css, "clear", json!({})).await;
    }

    /// Chooses, in the select matching a CSS selector, the option whose visible text is
    /// `label` (as a person picks a name, not a code). Panics when there is no such option.
    pub async fn choose(&self, css: &str, label: &str) {
        let script = format!(
            "const s = document.querySelector({}); \
             const o = s && Array.from(s.options).find(o => o.text.trim() === {}); \
             if (!o) return false; s.value = o.value; \
             s.dispatchEvent(new Event('change', {{ bubbles: true }})); return true;",
            serde_json::to_string(css).unwrap(),
            serde_json::to_string(label).unwrap()
        );
        assert_eq!(
            self.execute(&script).await,
            Value::Bool(true),
            "no option {label} in {css}"
        );
    }

    /// The value of the cookie `name` the browser holds for the current site, if any: how a
    /// test downloads a file the page links to as the signed-in person.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let r = self.get(&format!("cookie/{name}")).await;
        r["value"]["value"].as_str().map(str::to_owned)
    }

    /// Waits (up to 10 s) until `script` (a JavaScript expression) is true in the page: after
    /// a click that submits, how a test knows the next page has arrived.
    pub async fn wait_until(&self, script: &str) {
        let script = format!("try {{ return !!({script}); }} catch (e) {{ return false; }}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self
            .try_command("execute/sync", json!({ "script": script, "args": [] }))
            .await["value"]
            != Value::Bool(true)
        {
            assert!(std::time::Instant::now() < deadline, "never true: {script}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Waits (up to 10 s) until an element matching a CSS selector is on the page: after a
    /// click that submits, this is how a test knows the next page is the one it reads.
    pub async fn wait_for(&self, css: &str) {
        let script = format!(
            "return document.querySelector({}) !== null;",
            serde_json::to_string(css).unwrap()
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self
            .try_command("execute/sync", json!({ "script": script, "args": [] }))
            .await["value"]
            != Value::Bool(true)
        {
            assert!(std::time::Instant::now() < deadline, "no element {css}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` in the page (WebDriver "execute/sync") and returns its value.
    pub async fn execute(&self, script: &str) -> Value {
        self.command("execute/sync", json!({ "script": script, "args": [] }))
            .await
    }

    /// Types `text` into the first element matching a CSS selector.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.on_element(css, "value", json!({ "text": text })).await;
    }

    /// The current page's address.
    pub async fn url(&self) -> String {
        let r = self.get("url").await;
        r["value"].as_str().unwrap_or_default().to_owned()
    }

    /// Signs the browser in: `cookie` is a `name=value` Cookie header (as `session()` gives),
    /// set for the site of the current page.
    pub async fn set_cookie(&self, cookie: &str) {
        let (name, value) = cookie.split_once('=').expect("name=value");
        self.command(
            "cookie",
            json!({ "cookie": { "name": name, "value": value, "path": "/" } }),
        )
        .await;
    }

    /// What is wrong with the current page for a person on a phone: horizontal scrolling at
    /// this window's width, English leaking into what people read (a run of three or more
    /// English words in the visible text), and axe-core's WCAG 2.x A/AA violations of impact
    /// critical or serious. Empty when the page is fine.
    pub async fn audit_page(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let overflow = self
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            )
            .await;
        if overflow.as_i64().unwrap_or(0) > 0 {
            problems.push(format!("scrolls horizontally by {overflow} px"));
        }
        let english = self
            .execute(
                "return (document.body.innerText.match(/[A-Za-z]+(?:[ \\t]+[A-Za-z]+){2,}/g) || []);",
            )
            .await;
        for run in english.as_array().into_iter().flatten() {
            problems.push(format!(
                "English in the page: {}",
                run.as_str().unwrap_or_default()
            ));
        }
        static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let axe = AXE.get_or_init(|| {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/node_modules/axe-core/axe.min.js"
            );
            std::fs::read_to_string(path).unwrap_or_else(|e| {
                panic!("{path}: {e} (scripts/test installs axe-core: npm ci --prefix tests)")
            })
        });
        self.execute(&format!("{axe}\nreturn 1;")).await;
        let violations = self
            .command(
                "execute/async",
                json!({
                    "script": "const done = arguments[arguments.length - 1]; \
                        axe.run(document, { runOnly: { type: 'tag', values: \
                        ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }) \
                        .then(r => done(r.violations \
                            .filter(v => v.impact === 'critical' || v.impact === 'serious') \
                            .map(v => v.id + ': ' + v.help + ' — ' + \
                                v.nodes.map(n => n.target.join(' ')).join(', ')))) \
                        .catch(e => done(['axe failed: ' + e]));",
                    "args": [],
                }),
            )
            .await;
        for v in violations.as_array().into_iter().flatten() {
            problems.push(format!("axe: {}", v.as_str().unwrap_or_default()));
        }
        problems
    }

    /// Saves what the window shows now (390 × 844) as a PNG at `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine as _;
        let r = self.get("screenshot").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["value"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("a screenshot that is not base64: {e}"));
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// The current page's HTML.
    pub async fn source(&self) -> String {
        let r = self.get("source").await;
        r["value"].as_str().unwrap_or_default().to_owned()
    }
}

impl Drop for Browser {
    /// Closes the browser session (chromedriver then quits Chromium); `Processes` then stops
    /// the driver and anything left.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let addr = self.base.trim_start_matches("http://");
        if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
    }
}
