//! The HTTP edge under bad input and abuse (issue 11, sections 5 and 6): every refusal has the
//! documented JSON body under `/api` and a Chinese page elsewhere, pages carry the security
//! headers, the development mailbox answers only this machine, and the sign-in and public
//! nomination forms are limited without letting a stranger lock anyone out.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use jinguo_core::org::OrgCode;
use jinguo_store::Store;
use jinguo_tests::{Backend, Contents, TestApp, TestDb, add_staff, api_token, eventually};
use reqwest::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------------
// Helpers

/// A client that follows no redirects and, when `from` is given, connects from that loopback
/// address (127.0.0.2, …): another client address as far as the server can tell.
fn client_from(from: Option<[u8; 4]>) -> reqwest::Client {
    let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(ip) = from {
        b = b.local_address(IpAddr::V4(Ipv4Addr::from(ip)));
    }
    b.build().unwrap()
}

/// What a person sees of a page: the text outside tags and entities.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let (mut in_tag, mut in_entity) = (false, false);
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            '&' if !in_tag => in_entity = true,
            ';' if in_entity => in_entity = false,
            c if !in_tag && !in_entity => out.push(c),
            _ => {}
        }
    }
    out
}

/// Asserts a Chinese HTML page with `status` and no Latin letters a person could read; its
/// visible text.
async fn chinese_page(response: reqwest::Response, status: u16, what: &str) -> String {
    assert_eq!(response.status().as_u16(), status, "{what}");
    let ct = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ct.starts_with("text/html"), "{what}: {ct}");
    let text = visible_text(&response.text().await.unwrap());
    assert!(
        !text.chars().any(|c| c.is_ascii_alphabetic()),
        "{what}: English on a page: {text}"
    );
    assert!(text.contains("巾帼"), "{what}: our page: {text}");
    text
}

/// Asserts the API's error shape with `status` and `code`; the `error` object.
async fn api_error(response: reqwest::Response, status: u16, code: &str, what: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "{what}");
    let ct = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ct.starts_with("application/json"), "{what}: {ct}");
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    assert_eq!(error["code"], code, "{what}: {body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
    assert!(
        error.get("field").is_some(),
        "{what}: field is always present: {body}"
    );
    error.clone()
}

/// Sends `head` and then `chunks` as a chunked body over a fresh connection; the status and the
/// raw answer.
async fn chunked_post(
    app: &TestApp,
    path: &str,
    content_type: &str,
    chunks: &[Vec<u8>],
) -> (u16, String) {
    let addr = app.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in chunks {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    // The server may close once it has answered; what arrived before is the answer.
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
    (status, answer)
}

/// Two villages of 皋兰县's first township.
async fn villages(store: &Store) -> (OrgCode, OrgCode) {
    let (_, _, villages) = jinguo_tests::nominating::villages(store).await;
    (villages[0], villages[1])
}

async fn admin_token(app: &TestApp) -> String {
    let admin = add_staff(
        &app.store,
        "admin@example.cn",
        "县妇联管理员",
        "admin",
        "620122",
    )
    .await;
    api_token(&app.store, admin).await
}

use jinguo_tests::nominating::campaign;

const STORY: &str = "李秀英一家孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，是远近闻名的好家庭，值得大家学习。";

/// The self-nomination form for household `n` (a distinct mobile number) of `village`.
fn household(village: OrgCode, n: u32) -> Vec<(&'static str, String)> {
    vec![
        ("village", village.as_str().to_owned()),
        ("category", "五好家庭".to_owned()),
        ("head_name", format!("户主{n}")),
        ("head_id", format!("139{n:08}")),
        ("address", "皋兰县某村".to_owned()),
        // Required on the public form; the family's own number.
        ("phone", format!("139{n:08}")),
        ("story", STORY.to_owned()),
    ]
}

async fn nominate(
    app: &TestApp,
    client: &reqwest::Client,
    campaign: &str,
    form: &[(&'static str, String)],
) -> reqwest::Response {
    client
        .post(format!("{}/nominate/{campaign}", app.base_url))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn sign_in_mails(store: &Store, to: &str) -> usize {
    let to = to.to_owned();
    store
        .read(|c| Box::pin(jinguo_store::mail::recent(c, 100)))
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.to_address == to && m.subject == "【巾帼】登录链接")
        .count()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

// ---------------------------------------------------------------------------------------------
// Refusals: one JSON shape under /api, a Chinese page elsewhere

async fn api_refusals_have_the_one_json_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = add_staff(&app.store, "admin@example.cn", "管理员", "admin", "620122").await;
    let token = api_token(&app.store, admin).await;
    let url = |p: &str| format!("{}{p}", app.base_url);

    let r = app
        .client
        .get(url("/api/v1/nominations/not-a-uuid"))
        .bearer_auth(&token)
        .send();
    let error = api_error(r.await.unwrap(), 400, "invalid", "bad UUID in the path").await;
    assert!(error["field"].is_string(), "{error}");

    let r = app
        .client
        .delete(url("/api/v1/staff"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let allow = r.headers()[ALLOW].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let error = api_error(r, 405, "method_not_allowed", "wrong method").await;
    assert!(
        error["message"].as_str().unwrap().contains("GET"),
        "{error}"
    );

    let r = app
        .client
        .get(url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    api_error(r, 404, "not_found", "unknown path").await;

    let long = format!(
        "/api/v1/orgs/62?q={}",
        "x".repeat(jinguo_api::MAX_URI_BYTES)
    );
    let r = app.client.get(url(&long)).send().await.unwrap();
    api_error(r, 414, "uri_too_long", "long URL").await;
    let just_fits = format!(
        "/api/v1/orgs/62?q={}",
        "x".repeat(jinguo_api::MAX_URI_BYTES - 100)
    );
    let r = app.client.get(url(&just_fits)).send().await.unwrap();
    assert_eq!(r.status(), 200, "a URL under the limit is served");
}

async fn api_bodies_of_the_wrong_type_or_without_a_field_are_refused_by_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = add_staff(&app.store, "admin@example.cn", "管理员", "admin", "620122").await;
    let token = api_token(&app.store, admin).await;
    let url = format!("{}/api/v1/staff", app.base_url);
    let r = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "text/plain")
        .body("email=a@example.cn")
        .send()
        .await
        .unwrap();
    let error = api_error(r, 415, "unsupported_media_type", "text body to the API").await;
    assert_eq!(error["field"], "body");
    let r = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({ "name": "王芳" }));
    let error = api_error(r.send().await.unwrap(), 400, "invalid", "missing field").await;
    assert_eq!(error["field"], "email", "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_body_over_the_limit_is_413_in_both_shapes() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        Contents::Empty,
        &[("JINGUO_HTTP__BODY_LIMIT_BYTES", "1024")],
    )
    .await;
    let chunks = vec![vec![b'x'; 700], vec![b'y'; 700]];
    let (status, answer) = chunked_post(&app, "/api/v1/staff", "application/json", &chunks).await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains(r#""code":"too_large""#), "{answer}");
    let (status, answer) = chunked_post(
        &app,
        "/signin",
        "application/x-www-form-urlencoded",
        &chunks,
    )
    .await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("提交的内容过大"), "{answer}");
    // Under the limit, a chunked form is read as usual.
    let small = vec![b"email=someone%40example.cn".to_vec()];
    let (status, answer) =
        chunked_post(&app, "/signin", "application/x-www-form-urlencoded", &small).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("请查收邮件"));
}

async fn page_refusals_are_chinese_pages_that_keep_their_headers(backend: Backend) {
    let app = TestApp::spawn_with(backend, Contents::Empty, &[]).await;
    let client = client_from(None);
    let url = |p: &str| format!("{}{p}", app.base_url);

    let text = chinese_page(
        client.get(url("/nothing-here")).send().await.unwrap(),
        404,
        "404",
    )
    .await;
    assert!(text.contains("页面不存在"));
    chinese_page(
        client.get(url("/tasks/not-a-uuid")).send().await.unwrap(),
        400,
        "bad path",
    )
    .await;
    chinese_page(
        client
            .get(url("/nominate/not-a-uuid"))
            .send()
            .await
            .unwrap(),
        400,
        "bad path",
    )
    .await;

    let r = client.put(url("/signin")).send().await.unwrap();
    let allow = r.headers()[ALLOW].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    chinese_page(r, 405, "wrong method").await;

    let r = client
        .post(url("/signin"))
        .json(&json!({ "email": "a@example.cn" }))
        .send();
    chinese_page(r.await.unwrap(), 415, "JSON to a form").await;
    let r = client
        .post(url("/signin"))
        .form(&[("mail", "a@example.cn")])
        .send();
    chinese_page(r.await.unwrap(), 400, "missing form field").await;
    // A malformed address: the form again, the refusal beside the field, what was typed kept.
    let r = client
        .post(url("/signin"))
        .form(&[("email", "wangfang@")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<title>提交未成功")
            && html.contains(r#"value="wangfang@""#)
            && html.contains(r#"aria-describedby="email-error" autofocus"#)
            && html.contains(r#"id="email-error" role="alert">邮箱格式不正确"#),
        "{html}"
    );
    let long = format!("/signin?q={}", "x".repeat(jinguo_api::MAX_URI_BYTES));
    chinese_page(
        client.get(url(&long)).send().await.unwrap(),
        414,
        "long URL",
    )
    .await;
    // Only the head is sent: the server answers before any body, and a client still writing
    // one would meet a closed connection.
    let addr = app.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /signin HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        2 << 20
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let (headers, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("content-type: text/html"),
        "{headers}"
    );
    let text = visible_text(body);
    assert!(
        !text.chars().any(|c| c.is_ascii_alphabetic()),
        "English on a page: {text}"
    );
    assert!(text.contains("巾帼"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_per_address_limit_answers_429_with_retry_after_in_both_shapes() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        Contents::Empty,
        &[("JINGUO_AUTH__RATE_LIMIT_PER_IP_PER_MINUTE", "2")],
    )
    .await;
    let client = client_from(None);
    for _ in 0..2 {
        assert_eq!(
            client
                .get(format!("{}/signin", app.base_url))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let r = client
        .get(format!("{}/signin", app.base_url))
        .send()
        .await
        .unwrap();
    let wait = retry_after(&r);
    assert!((1..=60).contains(&wait), "{wait}");
    let text = chinese_page(r, 429, "page over the limit").await;
    assert!(text.contains("稍后再试"), "{text}");
    let r = client
        .get(format!("{}/api/v1/orgs/62", app.base_url))
        .send()
        .await
        .unwrap();
    assert!((1..=60).contains(&retry_after(&r)));
    api_error(r, 429, "rate_limited", "API over the limit").await;
    // Another address has its own allowance.
    let other = client_from(Some([127, 0, 0, 2]));
    assert_eq!(
        other
            .get(format!("{}/signin", app.base_url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

// ---------------------------------------------------------------------------------------------
// Headers

async fn every_answer_carries_the_security_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = client_from(None);
    for path in [
        "/",
        "/signin",
        "/nothing-here",
        "/api/v1/orgs/62",
        "/api/v1/nothing",
        "/healthz",
    ] {
        let r = client
            .get(format!("{}{path}", app.base_url))
            .send()
            .await
            .unwrap();
        let h = r.headers();
        let get = |name: &str| {
            h.get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(get("x-frame-options"), "DENY", "{path}");
        assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(get("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(get("cache-control"), "no-store", "{path}");
        let csp = get("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(
            !csp.contains("script-src"),
            "no script allowed at all: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
    }
    // The one stylesheet the policy allows, from ourselves.
    let r = client
        .get(format!("{}/static/jinguo.css", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let html = client
        .get(format!("{}/signin", app.base_url))
        .send()
        .await
        .unwrap();
    assert!(
        html.text()
            .await
            .unwrap()
            .contains(r#"<link rel="stylesheet" href="/static/jinguo.css">"#)
    );
}

#[test]
fn templates_have_no_inline_script_style_or_event_handlers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../services/api/templates");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "html") {
            continue;
        }
        seen += 1;
        let html = std::fs::read_to_string(&path).unwrap().to_lowercase();
        let name = path.display();
        assert!(!html.contains("<script"), "{name}: inline script");
        assert!(!html.contains("<style"), "{name}: inline style block");
        assert!(!html.contains(" style="), "{name}: style attribute");
        assert!(!html.contains("javascript:"), "{name}: javascript: URL");
        // Event handler attributes: ` on<letters>=`.
        for (at, _) in html.match_indices(" on") {
            let rest = &html[at + 3..];
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            assert!(
                word.is_empty() || !rest[word.len()..].starts_with('='),
                "{name}: event handler on{word}="
            );
        }
    }
    assert!(seen >= 5, "templates found in {}", dir.display());
}

// ---------------------------------------------------------------------------------------------
// Bearer tokens

async fn the_bearer_scheme_is_accepted_in_any_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let person = add_staff(
        &app.store,
        "wangfang@example.cn",
        "王芳",
        "reviewer",
        "620122",
    )
    .await;
    let token = api_token(&app.store, person).await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = app
            .client
            .get(format!("{}/api/v1/me", app.base_url))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{scheme}");
        assert_eq!(
            r.json::<Value>().await.unwrap()["email"],
            "wangfang@example.cn"
        );
    }
    let r = app
        .client
        .get(format!("{}/api/v1/me", app.base_url))
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    api_error(r, 401, "unauthorized", "another scheme").await;
}

// ---------------------------------------------------------------------------------------------
// The development mailbox

/// This machine's address on its network (not loopback): where a UDP socket "connected" to a
/// public address would send from. No packet is sent.
fn non_loopback_address() -> IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    socket
        .connect("192.0.2.255:9")
        .or_else(|_| socket.connect("8.8.8.8:53"))
        .expect("this test needs a network interface besides loopback");
    let ip = socket.local_addr().unwrap().ip();
    assert!(!ip.is_loopback() && !ip.is_unspecified(), "{ip}");
    ip
}

async fn the_dev_mailbox_answers_only_a_peer_on_this_machine(backend: Backend) {
    // Configured for a loopback address (so the route exists) but reachable on every interface,
    // as behind a port forward.
    let db = TestDb::new(backend, Contents::Empty).await;
    let config = Arc::new(jinguo_tests::test_config(&db, &[]));
    assert!(config.http.addr.ip().is_loopback());
    let store = Store::connect(&config.database).await.unwrap();
    let state = jinguo_api::AppState::new(store, config).unwrap();
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(jinguo_api::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let client = client_from(None);

    let local = client
        .get(format!("http://127.0.0.1:{port}/dev/mailbox"))
        .send();
    let local = local.await.unwrap();
    assert_eq!(local.status(), 200);
    assert!(local.text().await.unwrap().contains("开发邮箱"));

    let ip = non_loopback_address();
    let remote = client.get(format!("http://{ip}:{port}/dev/mailbox")).send();
    let text = chinese_page(remote.await.unwrap(), 404, "mailbox from the network").await;
    assert!(!text.contains("开发邮箱"), "{text}");
    let _ = stop.send(());
}

// ---------------------------------------------------------------------------------------------
// Sign-in

async fn sign_in_answers_known_and_unknown_emails_alike(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    add_staff(&app.store, "known@example.cn", "王芳", "reviewer", "620122").await;
    let client = client_from(None);
    let post = |email: &'static str| {
        client
            .post(format!("{}/signin", app.base_url))
            .form(&[("email", email)])
            .send()
    };
    let unknown = post("stranger@example.cn").await.unwrap();
    let known = post("Known@Example.cn").await.unwrap();
    assert_eq!(known.status(), unknown.status());
    assert_eq!(known.status(), 200);
    let headers = |r: &reqwest::Response| {
        let mut h: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter(|(k, _)| *k != "date")
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        h.sort();
        h
    };
    assert_eq!(headers(&known), headers(&unknown));
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    // The mail is sent after the answer, through the outbox, to the known address only.
    eventually("the sign-in mail", Duration::from_secs(10), || async {
        (sign_in_mails(&app.store, "known@example.cn").await == 1).then_some(())
    })
    .await;
    let all = app
        .store
        .read(|c| Box::pin(jinguo_store::mail::recent(c, 100)))
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "nothing for the unknown address");
}

async fn a_stranger_cannot_lock_a_person_out_of_sign_in(backend: Backend) {
    let env = [
        ("JINGUO_AUTH__SIGN_IN_PER_EMAIL_PER_HOUR", "2"),
        ("JINGUO_AUTH__SIGN_IN_PER_EMAIL_CEILING_PER_HOUR", "5"),
    ];
    let app = TestApp::spawn_with(backend, Contents::Gansu, &env).await;
    add_staff(
        &app.store,
        "victim@example.cn",
        "王芳",
        "reviewer",
        "620122",
    )
    .await;
    let post = |from: [u8; 4]| {
        client_from(Some(from))
            .post(format!("{}/signin", app.base_url))
            .form(&[("email", "victim@example.cn")])
            .send()
    };
    let stranger = [127, 0, 0, 2];
    assert_eq!(post(stranger).await.unwrap().status(), 200);
    assert_eq!(post(stranger).await.unwrap().status(), 200);
    let refused = post(stranger).await.unwrap();
    assert!(retry_after(&refused) > 60);
    let text = chinese_page(refused, 429, "the stranger's third request").await;
    assert!(
        text.contains("过于频繁") && text.contains("分钟后再试"),
        "{text}"
    );
    // The person herself, from her own address, still gets her link.
    assert_eq!(post([127, 0, 0, 1]).await.unwrap().status(), 200);
    // Many addresses together reach the per-email ceiling.
    assert_eq!(post([127, 0, 0, 3]).await.unwrap().status(), 200);
    assert_eq!(post([127, 0, 0, 3]).await.unwrap().status(), 200);
    assert_eq!(
        post([127, 0, 0, 4]).await.unwrap().status(),
        429,
        "ceiling of 5"
    );
    eventually("five sign-in mails", Duration::from_secs(10), || async {
        (sign_in_mails(&app.store, "victim@example.cn").await == 5).then_some(())
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The public nomination form

async fn the_public_form_is_limited_per_address(backend: Backend) {
    let env = [("JINGUO_NOMINATIONS__PUBLIC_FORM_PER_IP_PER_HOUR", "2")];
    let app = TestApp::spawn_with(backend, Contents::Gansu, &env).await;
    let token = admin_token(&app).await;
    let id = campaign(&app, &token, "2026年皋兰县最美家庭评选").await;
    let (village, _) = villages(&app.store).await;
    let from_2 = client_from(Some([127, 0, 0, 2]));
    for n in 1..=2 {
        let r = nominate(&app, &from_2, &id, &household(village, n)).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    let refused = nominate(&app, &from_2, &id, &household(village, 3)).await;
    assert!(retry_after(&refused) > 60);
    assert_eq!(refused.status(), 429);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("提交过于频繁") && html.contains("分钟后再试"),
        "{html}"
    );
    assert!(
        html.contains(r#"value="户主3""#),
        "what was typed is kept: {html}"
    );
    assert!(html.contains(STORY));
    assert!(html.contains(r#"id="form-error""#));
    // Another address is not affected.
    let from_3 = client_from(Some([127, 0, 0, 3]));
    assert_eq!(
        nominate(&app, &from_3, &id, &household(village, 3))
            .await
            .status(),
        201
    );
}

async fn the_public_form_is_limited_per_campaign(backend: Backend) {
    let env = [("JINGUO_NOMINATIONS__PUBLIC_FORM_PER_CAMPAIGN_PER_HOUR", "2")];
    let app = TestApp::spawn_with(backend, Contents::Gansu, &env).await;
    let token = admin_token(&app).await;
    let id = campaign(&app, &token, "2026年皋兰县最美家庭评选").await;
    let (a, b) = villages(&app.store).await;
    let r = nominate(
        &app,
        &client_from(Some([127, 0, 0, 2])),
        &id,
        &household(a, 1),
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = nominate(
        &app,
        &client_from(Some([127, 0, 0, 3])),
        &id,
        &household(b, 2),
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = nominate(
        &app,
        &client_from(Some([127, 0, 0, 4])),
        &id,
        &household(b, 3),
    )
    .await;
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("分钟后再试"));
    // Another campaign has its own allowance.
    let other = campaign(&app, &token, "2026年皋兰县五好家庭评选").await;
    let r = nominate(
        &app,
        &client_from(Some([127, 0, 0, 4])),
        &other,
        &household(b, 3),
    )
    .await;
    assert_eq!(r.status(), 201);
}

async fn the_public_form_is_limited_per_village_per_day(backend: Backend) {
    let env = [("JINGUO_NOMINATIONS__PUBLIC_FORM_PER_VILLAGE_PER_DAY", "1")];
    let app = TestApp::spawn_with(backend, Contents::Gansu, &env).await;
    let token = admin_token(&app).await;
    let id = campaign(&app, &token, "2026年皋兰县最美家庭评选").await;
    let (a, b) = villages(&app.store).await;
    let r = nominate(
        &app,
        &client_from(Some([127, 0, 0, 2])),
        &id,
        &household(a, 1),
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = nominate(
        &app,
        &client_from(Some([127, 0, 0, 3])),
        &id,
        &household(a, 2),
    )
    .await;
    assert_eq!(
        r.status(),
        429,
        "a flood from many addresses into one village"
    );
    assert!(retry_after(&r) > 3600, "the window is a day");
    assert!(r.text().await.unwrap().contains("小时后再试"));
    let r = nominate(
        &app,
        &client_from(Some([127, 0, 0, 3])),
        &id,
        &household(b, 2),
    )
    .await;
    assert_eq!(r.status(), 201, "another village is not affected");
}

async fn a_refused_form_keeps_what_was_typed_and_shows_why_beside_the_field(backend: Backend) {
    let env = [("JINGUO_NOMINATIONS__PUBLIC_FORM_PER_IP_PER_HOUR", "1")];
    let app = TestApp::spawn_with(backend, Contents::Gansu, &env).await;
    let token = admin_token(&app).await;
    let id = campaign(&app, &token, "2026年皋兰县最美家庭评选").await;
    let (village, _) = villages(&app.store).await;
    let client = client_from(None);

    let mut short = household(village, 1);
    short[6].1 = "太短了".to_owned();
    let r = nominate(&app, &client, &id, &short).await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"id="story-error""#), "{html}");
    assert!(html.contains("家庭事迹："), "{html}");
    assert!(html.contains(r#"value="户主1""#) && html.contains(r#"value="13900000001""#));
    assert!(html.contains(">太短了</textarea>"));
    assert!(
        html.contains("<option selected>五好家庭</option>"),
        "the category stays chosen"
    );

    let mut outside = household(village, 1);
    outside[0].1 = "620123100201".to_owned();
    let r = nominate(&app, &client, &id, &outside).await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"id="village-error""#), "{html}");
    // The village is chosen from the picker, which lists only the campaign's area: the page
    // says why the posted one was refused and offers the campaign's own.
    assert!(html.contains("不在本次评选范围内"), "{html}");
    assert!(html.contains(r#"aria-describedby="village-error""#));

    // Refusals do not use up the address's allowance of one.
    let r = nominate(&app, &client, &id, &household(village, 1)).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = nominate(&app, &client, &id, &household(village, 2)).await;
    assert_eq!(r.status(), 429);
}

jinguo_tests::on_both_backends!(
    page_refusals_are_chinese_pages_that_keep_their_headers,
    api_refusals_have_the_one_json_shape,
    api_bodies_of_the_wrong_type_or_without_a_field_are_refused_by_name,
    every_answer_carries_the_security_headers,
    the_bearer_scheme_is_accepted_in_any_case,
    the_dev_mailbox_answers_only_a_peer_on_this_machine,
    sign_in_answers_known_and_unknown_emails_alike,
    a_stranger_cannot_lock_a_person_out_of_sign_in,
    the_public_form_is_limited_per_address,
    the_public_form_is_limited_per_campaign,
    the_public_form_is_limited_per_village_per_day,
    a_refused_form_keeps_what_was_typed_and_shows_why_beside_the_field,
);
