//! The test kit every Jinguo test uses.
//!
//! - [`TestDb`]: a fresh database per test. PostgreSQL databases are cloned from a migrated
//!   template (`CREATE DATABASE … TEMPLATE …`) and dropped afterwards; SQLite ones are files in a
//!   temporary directory. Each comes empty or with all of Gansu already loaded.
//! - [`TestApp`]: the HTTP service in-process on port 0 over such a database.
//! - [`JinguoProcess`]: the real `jinguo` binary as a subprocess, as an operator would run it.
//!
//! PostgreSQL is reached at `TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). A test never skips because it is missing:
//! it fails, naming the URL.

mod browser;
mod bus;
mod db;
pub mod nominating;
pub mod page_text;
mod people;
mod process;
mod proxy;
pub mod referring;
mod smtp;
pub mod touring;

use std::sync::Arc;

use jinguo_api::AppState;
use jinguo_config::Config;
use jinguo_store::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use browser::Browser;
pub use bus::{
    TestBus, Transport, dead_letters_eventually, delete_broker_names, delete_deployment_names,
    eventually, settle, unique_prefix,
};
pub use db::{Backend, Contents, TestDb, amqp_url, postgres_admin_url};
pub use people::{add_staff, api_token, session};
pub use process::{JinguoProcess, jinguo_bin, run_jinguo};
pub use proxy::Proxy;
pub use smtp::SmtpSink;

/// Logs to the test output when `TEST_LOG` is set (a tracing filter, e.g. `info` or
/// `jinguo_bus=debug`): how to see what the services did in a failing test.
pub fn init_test_logging() {
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

/// A config for tests: the given database, port 0, everything else default, plus `extra`.
pub fn test_config(db: &TestDb, extra: &[(&str, &str)]) -> Config {
    let mut env = vec![
        ("JINGUO_DATABASE__URL".to_owned(), db.url()),
        ("JINGUO_HTTP__ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        (
            "JINGUO_DATABASE__MAX_CONNECTIONS".to_owned(),
            "4".to_owned(),
        ),
        // Tests run whole 公示 periods in seconds.
        (
            "JINGUO_NOMINATIONS__SHORTEST_PUBLICITY".to_owned(),
            "1s".to_owned(),
        ),
        // A run that crosses 09:00 on a working day would otherwise mail a digest into tests
        // that count mails; the digest's own tests turn it on.
        (
            "JINGUO_CRON__JOBS__REVIEW_DIGEST__ENABLED".to_owned(),
            "false".to_owned(),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_env(env).expect("test configuration is valid")
}

/// The HTTP service running in this process.
pub struct TestApp {
    pub db: TestDb,
    pub store: Store,
    pub base_url: String,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
}

impl TestApp {
    /// Serves over a fresh database of `backend` holding all of Gansu.
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, Contents::Gansu, &[]).await
    }

    pub async fn spawn_with(
        backend: Backend,
        contents: Contents,
        extra: &[(&str, &str)],
    ) -> TestApp {
        let db = TestDb::new(backend, contents).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        // Links in mail point at this server unless the test says otherwise.
        let mut env = vec![("JINGUO_HTTP__PUBLIC_URL", base_url.as_str())];
        env.extend_from_slice(extra);
        let config = Arc::new(test_config(&db, &env));
        let store = Store::connect(&config.database)
            .await
            .expect("connect to test database");
        let (stop, stopped) = oneshot::channel::<()>();
        let state = AppState::new(store.clone(), config).expect("built-in calendar");
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            jinguo_api::serve(listener, state, shutdown)
                .await
                .expect("serve");
        });
        TestApp {
            db,
            store,
            base_url,
            client: reqwest::Client::new(),
            stop: Some(stop),
        }
    }

    /// GET `path`, returning the status and the body parsed as JSON.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        get_json(&self.client, &format!("{}{path}", self.base_url)).await
    }

    /// GET `path` with the API token `token`: the status and the body parsed as JSON.
    pub async fn get_json_as(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let url = format!("{}{path}", self.base_url);
        json_of(self.client.get(&url).bearer_auth(token), &url).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// GET a URL, returning the status and the body parsed as JSON.
pub async fn get_json(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    json_of(client.get(url), url).await
}

/// Sends `request` (a GET of `url`): the status and the body parsed as JSON.
async fn json_of(request: reqwest::RequestBuilder, url: &str) -> (u16, serde_json::Value) {
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.expect("response body");
    let json =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {text}"));
    (status, json)
}

/// Turns `async fn name(backend: Backend)` functions into one test per backend, in modules
/// `postgres` and `sqlite`: the same behaviour asserted on both.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() { super::$name($crate::Backend::Postgres).await }
            )*
        }
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() { super::$name($crate::Backend::Sqlite).await }
            )*
        }
    };
}

/// Like [`on_both_backends!`], for `async fn x(transport: Transport)`: modules `rabbitmq`
/// (RabbitMQ + PostgreSQL) and `in_process` (the embedded default).
#[macro_export]
macro_rules! on_both_transports {
    ($($name:ident),* $(,)?) => {
        mod rabbitmq {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() { super::$name($crate::Transport::RabbitMq).await }
            )*
        }
        mod in_process {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() { super::$name($crate::Transport::InProcess).await }
            )*
        }
    };
}
