//! A 县妇联 coordinator's whole journey in a real Chromium at phone size (390 × 844), with no
//! terminal and nothing typed that a person would not type (no code, no id, no address bar
//! beyond the start page): sign in through the sign-in page and the emailed link, create a
//! campaign, open its public self-nomination link from the campaign page and nominate a family
//! there with two mistakes (both refused beside their fields, everything typed kept, corrected
//! without retyping), nominate a second family as the organisation, find both on the
//! dashboard, open one's timeline from its row, and export the list as xlsx (read back with
//! calamine). Every page the browser meets passes the phone audit (`Browser::audit_page`).

use jinguo_tests::nominating::mails_to;
use jinguo_tests::{Backend, Browser, TestApp, add_staff};

const CAMPAIGN: &str = "2026年皋兰县最美家庭评选";
const SELF_HEAD: &str = "王秀兰";
/// A valid resident ID number (GB 11643 check digit).
const SELF_ID: &str = "620122198001011234";
const SELF_ADDRESS: &str = "石洞镇城中社区幸福路12号";
const SHORT_STORY: &str = "我们一家孝老爱亲。";
const STORY_REST: &str = "二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，邻里和睦，是远近闻名的好家庭，值得大家学习。";
const ORG_HEAD: &str = "李建国";
const ORG_ID: &str = "620122198502023452";
const ORG_STORY: &str = "李建国一家勤劳致富不忘乡亲，带动全村发展特色种植，资助困难学生上学，夫妻和睦、尊老爱幼，家风淳朴，多次被评为文明家庭，深受群众好评。";

/// The browser and what the audit found on each page so far.
struct Walk {
    browser: Browser,
    problems: Vec<String>,
    pages: usize,
}

impl Walk {
    /// Waits until the page whose title contains `title` is shown, then audits it.
    async fn arrive(&mut self, title: &str) {
        self.browser
            .wait_until(&format!(
                "document.readyState === 'complete' && document.title.includes({})",
                serde_json::to_string(title).unwrap()
            ))
            .await;
        self.audit().await;
    }

    /// Audits the page shown now.
    async fn audit(&mut self) {
        self.pages += 1;
        let url = self.browser.url().await;
        let title = self.browser.execute("return document.title;").await;
        // Shown with a failure: the way the walk went.
        eprintln!("page {url} {title}");
        for p in self.browser.audit_page().await {
            self.problems.push(format!("{url} ({title}): {p}"));
        }
        // `scripts/screenshots` sets this to keep a picture of every page for the docs.
        if let Some(dir) = std::env::var_os("JINGUO_SCREENSHOTS") {
            let title = title.as_str().unwrap_or_default();
            let name = title
                .split(" · ")
                .next()
                .unwrap_or(title)
                .replace(['/', ' '], "-");
            let path = std::path::Path::new(&dir).join(format!("{:02}-{name}.png", self.pages));
            self.browser.screenshot(&path).await;
        }
    }

    async fn value_of(&self, css: &str) -> String {
        let script = format!(
            "return document.querySelector({}).value;",
            serde_json::to_string(css).unwrap()
        );
        self.browser
            .execute(&script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn text_of(&self, css: &str) -> String {
        let script = format!(
            "const e = document.querySelector({}); return e ? e.innerText : '';",
            serde_json::to_string(css).unwrap()
        );
        self.browser
            .execute(&script)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let script = format!(
            "const e = document.querySelector({}); return e ? e.getAttribute({}) : null;",
            serde_json::to_string(css).unwrap(),
            serde_json::to_string(name).unwrap()
        );
        self.browser
            .execute(&script)
            .await
            .as_str()
            .map(str::to_owned)
    }

    /// The whole page's visible text.
    async fn page_text(&self) -> String {
        self.text_of("body").await
    }

    /// Picks 石洞镇 → 城中社区 in the village picker of the form shown, by name.
    async fn pick_village(&mut self) {
        self.browser.choose("select[name=village]", "石洞镇").await;
        self.browser.click("button[name=step][value=pick]").await;
        self.browser
            .wait_until(
                "Array.from(document.querySelectorAll('select[name=village] option')) \
                 .some(o => o.text.trim() === '城中社区')",
            )
            .await;
        self.audit().await;
        self.browser
            .choose("select[name=village]", "城中社区")
            .await;
    }

    /// A refused field: its message beside it (tied by aria-describedby, role=alert) and the
    /// field marked invalid.
    async fn refused_beside(&self, field: &str, says: &str) {
        let error = format!("[id='{field}-error']");
        let message = self.text_of(&error).await;
        assert!(message.contains(says), "{field}: {message:?}");
        assert_eq!(
            self.attribute(&error, "role").await.as_deref(),
            Some("alert"),
            "{field}"
        );
        let input = format!("[id='{field}']");
        assert_eq!(
            self.attribute(&input, "aria-invalid").await.as_deref(),
            Some("true"),
            "{field}"
        );
        let described = self
            .attribute(&input, "aria-describedby")
            .await
            .unwrap_or_default();
        assert!(
            described
                .split_whitespace()
                .any(|id| id == format!("{field}-error")),
            "{field} is described by its message: {described:?}"
        );
        // Beside it: the message follows the field within the same paragraph.
        let beside = self
            .browser
            .execute(&format!(
                "const f = document.querySelector(\"{input}\"); \
                 const e = document.querySelector(\"{error}\"); \
                 return f.parentElement === e.parentElement \
                   && !!(f.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING);"
            ))
            .await;
        assert_eq!(beside, serde_json::Value::Bool(true), "{field}");
    }
}

async fn a_coordinator_walks_from_sign_in_to_the_export(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let coordinator = add_staff(&app.store, "mazhuren@gl.cn", "马主任", "admin", "620122").await;
    let mut walk = Walk {
        browser: Browser::start().await,
        problems: Vec::new(),
        pages: 0,
    };
    let base = app.base_url.clone();

    // The start page, then 登录.
    walk.browser.goto(&format!("{base}/")).await;
    walk.arrive("甘肃省妇联").await;
    walk.browser.click_link("登录").await;
    walk.arrive("登录").await;
    walk.browser
        .type_into("input[name=email]", "mazhuren@gl.cn")
        .await;
    walk.browser.click("form button[type=submit]").await;
    walk.arrive("请查收邮件").await;

    // The emailed link, from the mailbox.
    let mail = jinguo_tests::eventually(
        "the sign-in mail",
        std::time::Duration::from_secs(10),
        || async {
            mails_to(&app.store, coordinator, "【巾帼】登录链接")
                .await
                .into_iter()
                .next()
        },
    )
    .await
    .1;
    let at = mail.find("http").expect("a link in the mail");
    let link = mail[at..].split_whitespace().next().unwrap().to_owned();
    assert!(link.starts_with(&format!("{base}/link/")), "{mail}");
    walk.browser.goto(&link).await;
    walk.arrive("确认登录").await;
    walk.browser.click("form button[type=submit]").await;
    walk.arrive("我的工作台").await;
    assert!(walk.page_text().await.contains("马主任"));

    // 评选活动 → 创建评选活动: forgetting the categories first.
    walk.browser.click_link("最美家庭评选活动").await;
    walk.arrive("评选活动").await;
    walk.browser.click_link("创建评选活动").await;
    walk.arrive("创建评选活动").await;
    walk.browser.type_into("#name", CAMPAIGN).await;
    walk.browser
        .click("form button[value=submit]:not(.default-submit)")
        .await;
    walk.arrive("提交未成功").await;
    assert_eq!(walk.value_of("#name").await, CAMPAIGN, "the name is kept");
    walk.refused_beside("rules.categories", "评选类别").await;
    walk.browser
        .type_into("#rules\\.categories", "最美家庭\n五好家庭")
        .await;
    walk.browser
        .click("form button[value=submit]:not(.default-submit)")
        .await;
    walk.arrive(CAMPAIGN).await;
    let shown = walk.page_text().await;
    assert!(
        shown.contains("评选范围：皋兰县") && shown.contains("五好家庭"),
        "{shown}"
    );

    // The public self-nomination link, as a family would open it from the poster.
    walk.browser.click("a[href*='/nominate/']").await;
    walk.arrive("本人自荐").await;
    walk.pick_village().await;
    walk.browser.choose("#category", "五好家庭").await;
    walk.browser.type_into("#head_name", SELF_HEAD).await;
    walk.browser.type_into("#head_id", SELF_ID).await;
    walk.browser.type_into("#address", SELF_ADDRESS).await;
    walk.browser.type_into("#phone", "1391234").await;
    walk.browser.type_into("#story", SHORT_STORY).await;
    walk.browser
        .click("form button[value=submit]:not(.default-submit)")
        .await;
    walk.arrive("提交未成功").await;
    let title = walk.browser.execute("return document.title;").await;
    assert!(
        title.as_str().unwrap().starts_with("提交未成功 · "),
        "{title}"
    );
    walk.refused_beside("phone", "手机号").await;
    walk.refused_beside("story", "").await;
    assert_eq!(
        walk.attribute("#phone", "autofocus").await.as_deref(),
        Some(""),
        "the first field refused has the focus"
    );
    assert_eq!(walk.attribute("#story", "autofocus").await, None);
    for (field, typed) in [
        ("#head_name", SELF_HEAD),
        ("#head_id", SELF_ID),
        ("#address", SELF_ADDRESS),
        ("#phone", "1391234"),
        ("#story", SHORT_STORY),
    ] {
        assert_eq!(walk.value_of(field).await, typed, "{field} is kept");
    }
    let chosen = walk
        .browser
        .execute(
            "const s = document.querySelector('#village'); \
             return s.options[s.selectedIndex].text + '/' + \
             document.querySelector('#category').value;",
        )
        .await;
    assert_eq!(
        chosen.as_str(),
        Some("城中社区/五好家庭"),
        "choices are kept"
    );
    // Corrected: the phone retyped, the story continued; nothing else touched.
    walk.browser.clear("#phone").await;
    walk.browser.type_into("#phone", "13912345678").await;
    walk.browser.type_into("#story", STORY_REST).await;
    walk.browser
        .click("form button[value=submit]:not(.default-submit)")
        .await;
    walk.arrive("自荐已提交").await;
    let done = walk.page_text().await;
    assert!(done.contains("受理编号：620122-2026-"), "{done}");
    assert!(!done.contains(SELF_ID) && !done.contains("13912345678"));

    // Back to the 工作台, and 组织推荐 from the campaign's page.
    walk.browser.click_link("工作台").await;
    walk.arrive("我的工作台").await;
    walk.browser.click_link("最美家庭评选活动").await;
    walk.arrive("评选活动").await;
    walk.browser.click_link(CAMPAIGN).await;
    walk.arrive(CAMPAIGN).await;
    walk.browser.click_link("组织推荐").await;
    walk.arrive("组织推荐").await;
    walk.pick_village().await;
    walk.browser.type_into("#head_name", ORG_HEAD).await;
    walk.browser.type_into("#head_id", ORG_ID).await;
    walk.browser
        .type_into("#address", "石洞镇城中社区和谐巷3号")
        .await;
    // A member without the relation: refused beside the members, the rest kept.
    walk.browser.type_into("#members", "张丽").await;
    walk.browser.type_into("#story", ORG_STORY).await;
    walk.browser
        .click("form button[value=submit]:not(.default-submit)")
        .await;
    walk.arrive("提交未成功").await;
    walk.refused_beside("members", "关系").await;
    assert_eq!(
        walk.value_of("#story").await,
        ORG_STORY,
        "the story is kept"
    );
    assert_eq!(walk.value_of("#head_name").await, ORG_HEAD);
    // The refused field has the focus, its caret at the start: the line is typed again.
    walk.browser.clear("#members").await;
    walk.browser.type_into("#members", "张丽 妻子").await;
    walk.browser
        .click("form button[value=submit]:not(.default-submit)")
        .await;
    walk.arrive("推荐详情").await;
    let page = walk.page_text().await;
    assert!(
        page.contains(&format!("{ORG_HEAD}家庭")) && page.contains("组织推荐"),
        "{page}"
    );

    // The dashboard, through the 工作台 and the campaign's page.
    walk.browser.click_link("工作台").await;
    walk.arrive("我的工作台").await;
    walk.browser.click_link("最美家庭评选活动").await;
    walk.arrive("评选活动").await;
    walk.browser.click_link(CAMPAIGN).await;
    walk.arrive(CAMPAIGN).await;
    walk.browser.click_link("工作看板").await;
    walk.arrive("评选看板").await;
    let board = walk.page_text().await;
    for family in [SELF_HEAD, ORG_HEAD] {
        assert!(
            board.contains(&format!("{family}家庭")),
            "{family}: {board}"
        );
    }
    let export = walk
        .browser
        .execute("return document.querySelector('a[href*=\"export.xlsx\"]').href;")
        .await
        .as_str()
        .expect("an export link")
        .to_owned();

    // A row's family opens its page with the timeline.
    walk.browser.click_link(&format!("{SELF_HEAD}家庭")).await;
    walk.arrive("推荐详情").await;
    let timeline = walk.text_of("ol.timeline").await;
    assert!(!timeline.trim().is_empty(), "a timeline");
    let page = walk.page_text().await;
    assert!(
        page.contains("本人自荐") && page.contains("城中社区") && page.contains("受理编号"),
        "{page}"
    );
    assert!(!page.contains(SELF_ID), "the ID number is masked: {page}");

    // The export, downloaded as the signed-in coordinator.
    let cookie = walk
        .browser
        .cookie("jinguo_session")
        .await
        .expect("signed in");
    let response = app
        .client
        .get(&export)
        .header("cookie", format!("jinguo_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{export}");
    let body = response.bytes().await.unwrap().to_vec();
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(body)).unwrap();
    let range = book.worksheet_range("推荐名单").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 3, "a header and two families: {rows:?}");
    assert_eq!(
        rows[0],
        [
            "家庭",
            "村",
            "乡镇",
            "类别",
            "推荐渠道",
            "状态",
            "提交时间",
            "截止时间",
            "逾期/停滞"
        ],
        "Chinese headers"
    );
    for (family, channel, category) in [
        (SELF_HEAD, "本人自荐", "五好家庭"),
        (ORG_HEAD, "组织推荐", "最美家庭"),
    ] {
        let row = rows[1..]
            .iter()
            .find(|r| r.iter().any(|c| c.contains(family)))
            .unwrap_or_else(|| panic!("{family}: {rows:?}"));
        for cell in [channel, category, "城中社区", "石洞镇"] {
            assert!(row.iter().any(|c| c == cell), "{family} {cell}: {row:?}");
        }
    }

    assert!(walk.pages >= 20, "pages audited: {}", walk.pages);
    assert!(
        walk.problems.is_empty(),
        "pages that fail the phone audit:\n{}",
        walk.problems.join("\n")
    );
}

jinguo_tests::on_both_backends!(a_coordinator_walks_from_sign_in_to_the_export);
