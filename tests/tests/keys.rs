//! Rotating the data key (`jinguo keys rotate`, `jinguo keys status`, docs/keys.md): values
//! sealed under an old key are re-sealed under the current one, batch by batch, until the old
//! key seals nothing and can be removed; a value no configured key opens stops the run, naming
//! its row.
//!
//! The binary must be built first (`cargo build -p jinguo`).

use std::num::NonZeroU32;
use std::process::Output;
use std::sync::Arc;

use jinguo_auth::rotate;
use jinguo_auth::seal::Sealer;
use jinguo_store::nominations;
use jinguo_store::sealed::{self, PLACES};
use jinguo_tests::nominating::{campaign, units};
use jinguo_tests::{
    Backend, Contents, TestApp, add_staff, api_token, on_both_backends, run_jinguo,
};
use serde_json::json;
use uuid::Uuid;

const KEY_A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KEY_B: &str = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";
const KEY_X: &str = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
const PHONES: [&str; 3] = ["13912345601", "13912345602", "13912345603"];
const STORY: &str = "李秀英一家孝老爱亲、邻里和睦，二十年如一日照顾瘫痪在床的婆婆，热心村里公益事务，带动乡邻共同建设美丽庭院，是远近闻名的好家庭。";

/// A sealer over `keys` (`id:hex` each), sealing with `current`.
fn sealer(keys: &[(&str, &str)], current: &str) -> Sealer {
    let keys: Vec<(String, String)> = keys
        .iter()
        .map(|(id, hex)| (id.to_string(), hex.to_string()))
        .collect();
    Sealer::from_config(&keys, current).unwrap()
}

/// The app's database after nominations of three families, each known by its phone, were
/// submitted while only key A was configured: three phones sealed under A. The nominations'
/// ids with their phones, in id order.
struct Sealed {
    app: TestApp,
    phones: Vec<(Uuid, &'static str)>,
}

async fn phones_sealed_under_a(backend: Backend) -> Sealed {
    let keys = format!("A:{KEY_A}");
    let app = TestApp::spawn_with(
        backend,
        Contents::Gansu,
        &[
            ("JINGUO_CRYPTO__DATA_KEYS", keys.as_str()),
            ("JINGUO_CRYPTO__DATA_KEY_CURRENT", "A"),
        ],
    )
    .await;
    let (county, _, village) = units(&app.store).await;
    let admin = add_staff(
        &app.store,
        "admin@example.cn",
        "县妇联管理员",
        "admin",
        county.as_str(),
    )
    .await;
    let token = api_token(&app.store, admin).await;
    let campaign = campaign(&app, &token, "2026年皋兰县最美家庭评选").await;
    let mut phones = Vec::new();
    for phone in PHONES {
        let created = app
            .client
            .post(format!("{}/api/v1/nominations", app.base_url))
            .bearer_auth(&token)
            .json(&json!({
                "campaign_id": campaign, "village": village.as_str(), "category": "最美家庭",
                "channel": "organization",
                "family": { "head_name": "李秀英", "head_id": phone, "address": "皋兰县某村",
                            "phone": phone, "members": [] },
                "story": STORY
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let body: serde_json::Value = created.json().await.unwrap();
        phones.push((body["id"].as_str().unwrap().parse::<Uuid>().unwrap(), phone));
    }
    phones.sort_by_key(|(id, _)| id.to_string());
    let sealed = Sealed { app, phones };
    for (id, _) in &sealed.phones {
        assert!(sealed.phone_sealed(*id).await.starts_with("v1:A:"));
    }
    sealed
}

impl Sealed {
    /// The nomination's sealed phone as stored.
    async fn phone_sealed(&self, id: Uuid) -> String {
        let n = self
            .app
            .store
            .read(move |c| Box::pin(nominations::get(c, id)))
            .await
            .unwrap()
            .unwrap();
        jinguo_nominations::family_of(&n)
            .phone_sealed
            .expect("a sealed phone")
    }

    /// The phone as the program opens it with `sealer`.
    async fn phone(&self, id: Uuid, sealer: &Sealer) -> Option<String> {
        let n = self
            .app
            .store
            .read(move |c| Box::pin(nominations::get(c, id)))
            .await
            .unwrap()
            .unwrap();
        jinguo_nominations::family_of(&n).phone(id, sealer)
    }

    /// `jinguo ARGS` over this database with keys `keys` (`id:hex,…`), `current` sealing.
    fn jinguo(&self, args: &[&str], keys: &str, current: &str) -> Output {
        let dir = tempfile::tempdir().unwrap();
        let url = self.app.db.url();
        run_jinguo(
            dir.path(),
            args,
            &[
                ("JINGUO_DATABASE__URL", url.as_str()),
                ("JINGUO_CRYPTO__DATA_KEYS", keys),
                ("JINGUO_CRYPTO__DATA_KEY_CURRENT", current),
            ],
        )
    }
}

/// Runs a command that must succeed; its standard output.
fn succeeded(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The line of `out` about `place`.
fn line<'a>(out: &'a str, place: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{place}:")))
        .unwrap_or_else(|| panic!("no line for {place} in:\n{out}"))
}

/// A referral and one of its events with a note, sealed under A as the referrals program
/// seals them (one event without a note beside it); their ids.
async fn referral_sealed_under_a(s: &Sealed) -> (String, String) {
    let a = sealer(&[("A", KEY_A)], "A");
    let (county, _, village) = units(&s.app.store).await;
    let referral = Uuid::new_v4().to_string();
    let event = Uuid::new_v4().to_string();
    let bare_event = Uuid::new_v4().to_string();
    let victim = a.seal(r#"{"name":"王芳"}"#, &format!("referral.victim:{referral}"));
    let reporter = a.seal(
        r#"{"name":"张强"}"#,
        &format!("referral.reporter:{referral}"),
    );
    let incident = a.seal(
        r#"{"summary":"…"}"#,
        &format!("referral.incident:{referral}"),
    );
    let note = a.seal("已电话联系", &format!("referral_event.note:{event}"));
    s.app
        .db
        .execute(&format!(
            "INSERT INTO referrals (id, case_number, county_code, village_code, source, state, \
             consent_basis, victim_sealed, reporter_sealed, incident_sealed, created_at, updated_at) \
             VALUES ('{referral}', 'GL-2026-0001', '{county}', '{village}', 'hotline', 'open', \
             'consent', '{victim}', '{reporter}', '{incident}', \
             '2026-12-01 10:00:00', '2026-12-01 10:00:00'); \
             INSERT INTO referral_events (id, referral_id, at, actor, kind, details, note_sealed) \
             VALUES ('{event}', '{referral}', '2026-12-01 10:05:00', 'system', 'note', '{{}}', '{note}'), \
             ('{bare_event}', '{referral}', '2026-12-01 10:06:00', 'system', 'opened', '{{}}', NULL);"
        ))
        .await;
    (referral, event)
}

/// The referral's and its event's sealed values as stored.
async fn referral_values(s: &Sealed, referral: &str, event: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for place in PLACES.iter().filter(|p| p.table.starts_with("referral")) {
        let id = if place.table == "referrals" {
            referral
        } else {
            event
        };
        let place = *place;
        let values = s
            .app
            .store
            .read(move |c| {
                Box::pin(async move { sealed::not_under(c, &place, "nobody", None, 100).await })
            })
            .await
            .unwrap();
        let value = values
            .into_iter()
            .find(|v| v.id == id)
            .unwrap_or_else(|| panic!("{place} of {id}"))
            .value;
        out.push((place.associated_data(id), value));
    }
    out
}

async fn rotation_reseals_every_value_under_the_new_key_until_the_old_key_can_go(backend: Backend) {
    let s = phones_sealed_under_a(backend).await;
    let (referral, event) = referral_sealed_under_a(&s).await;
    let both = format!("A:{KEY_A},B:{KEY_B}");
    let only_b = format!("B:{KEY_B}");

    // B added and made current: everything is still under A.
    let status = succeeded(s.jinguo(&["keys", "status"], &both, "B"));
    assert_eq!(
        line(&status, "nominations.family.phone_sealed"),
        "nominations.family.phone_sealed: A 3, B (current) 0"
    );
    assert_eq!(
        line(&status, "referrals.victim_sealed"),
        "referrals.victim_sealed: A 1, B (current) 0"
    );
    assert_eq!(status.lines().count(), PLACES.len(), "{status}");

    let rotated = succeeded(s.jinguo(&["keys", "rotate"], &both, "B"));
    assert_eq!(
        line(&rotated, "nominations.family.phone_sealed"),
        "nominations.family.phone_sealed: 已重新加密 3 (re-sealed 3), 当前密钥 (current key) B"
    );
    for place in PLACES.iter().filter(|p| p.table.starts_with("referral")) {
        assert!(
            line(&rotated, &place.to_string()).contains("(re-sealed 1)"),
            "{rotated}"
        );
    }
    assert_eq!(rotated.lines().count(), PLACES.len(), "{rotated}");

    // Every value is under B and opens to what was sealed, with B alone.
    let b = sealer(&[("B", KEY_B)], "B");
    for (id, phone) in &s.phones {
        assert!(s.phone_sealed(*id).await.starts_with("v1:B:"));
        assert_eq!(s.phone(*id, &b).await.as_deref(), Some(*phone));
    }
    let opened: Vec<String> = referral_values(&s, &referral, &event)
        .await
        .into_iter()
        .map(|(associated, value)| {
            assert!(value.starts_with("v1:B:"), "{associated}");
            b.open(&value, &associated).unwrap()
        })
        .collect();
    assert_eq!(
        opened,
        [
            r#"{"name":"王芳"}"#,
            r#"{"name":"张强"}"#,
            r#"{"summary":"…"}"#,
            "已电话联系"
        ]
    );

    // Nothing left to do: a second run re-seals nothing.
    let again = succeeded(s.jinguo(&["keys", "rotate"], &both, "B"));
    for l in again.lines() {
        assert!(l.contains("(re-sealed 0)"), "{again}");
    }
    let status = succeeded(s.jinguo(&["keys", "status"], &both, "B"));
    assert_eq!(
        line(&status, "nominations.family.phone_sealed"),
        "nominations.family.phone_sealed: A 0, B (current) 3"
    );
    assert_eq!(
        line(&status, "referral_events.note_sealed"),
        "referral_events.note_sealed: A 0, B (current) 1"
    );

    // A removed: everything still opens, and a rotation finds nothing it cannot open.
    let status = succeeded(s.jinguo(&["keys", "status"], &only_b, "B"));
    assert_eq!(
        line(&status, "nominations.family.phone_sealed"),
        "nominations.family.phone_sealed: B (current) 3"
    );
    let last = succeeded(s.jinguo(&["keys", "rotate"], &only_b, "B"));
    assert!(last.lines().all(|l| l.contains("(re-sealed 0)")), "{last}");
}

async fn a_value_no_configured_key_opens_stops_rotation_naming_its_row(backend: Backend) {
    let s = phones_sealed_under_a(backend).await;
    // The middle nomination's phone, sealed for its place but under a key nobody configured.
    let (broken, phone) = s.phones[1];
    let stray = sealer(&[("X", KEY_X)], "X").seal(phone, &format!("nomination.phone:{broken}"));
    let n = s
        .app
        .store
        .read(move |c| Box::pin(nominations::get(c, broken)))
        .await
        .unwrap()
        .unwrap();
    let mut family: serde_json::Value = serde_json::from_str(&n.family).unwrap();
    family["phone_sealed"] = json!(stray);
    s.app
        .db
        .execute(&format!(
            "UPDATE nominations SET family = '{family}' WHERE id = '{broken}'"
        ))
        .await;

    let out = s.jinguo(&["keys", "rotate"], &format!("A:{KEY_A},B:{KEY_B}"), "B");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: rotating the data key: nominations.family.phone_sealed of row {broken} does \
             not open with the configured keys: the value was sealed with key \"X\", which is \
             not configured"
        )
    );
    assert!(!stderr.contains(&stray) && !stderr.contains(phone));
    // The batch it was in was rolled back whole: the others are still under A.
    for (id, _) in [s.phones[0], s.phones[2]] {
        assert!(s.phone_sealed(id).await.starts_with("v1:A:"));
    }
    assert_eq!(s.phone_sealed(broken).await, stray);
}

async fn an_interrupted_rotation_continues_where_it_stopped(backend: Backend) {
    let s = phones_sealed_under_a(backend).await;
    let both = sealer(&[("A", KEY_A), ("B", KEY_B)], "B");
    let one = NonZeroU32::new(1).unwrap();

    // Stopped after its first batch of one row: that row is done, the rest is left.
    let stopped = rotate::rotate(&s.app.store, Arc::new(both), one, Some(1))
        .await
        .unwrap();
    assert!(!stopped.finished);
    assert_eq!(stopped.key_id, "B");
    assert_eq!(stopped.places[0].resealed, 1);
    let under = |prefix: &'static str| {
        let s = &s;
        async move {
            let mut n = 0;
            for (id, _) in &s.phones {
                n += usize::from(s.phone_sealed(*id).await.starts_with(prefix));
            }
            n
        }
    };
    assert_eq!((under("v1:B:").await, under("v1:A:").await), (1, 2));

    // The next run, one row per batch too, does the other two.
    let rest = succeeded(s.jinguo(
        &["keys", "rotate", "--batch", "1"],
        &format!("A:{KEY_A},B:{KEY_B}"),
        "B",
    ));
    assert!(
        line(&rest, "nominations.family.phone_sealed").contains("(re-sealed 2)"),
        "{rest}"
    );
    assert_eq!(under("v1:B:").await, 3);
    let b = sealer(&[("B", KEY_B)], "B");
    for (id, phone) in &s.phones {
        assert_eq!(s.phone(*id, &b).await.as_deref(), Some(*phone));
    }
}

/// Compare-and-set: a value changed between reading and replacing it is left as the other
/// writer left it.
async fn a_value_changed_after_it_was_read_is_not_overwritten(backend: Backend) {
    let s = phones_sealed_under_a(backend).await;
    let place = sealed::NOMINATION_PHONE;
    let page = s
        .app
        .store
        .read(move |c| Box::pin(async move { sealed::not_under(c, &place, "B", None, 10).await }))
        .await
        .unwrap();
    assert_eq!(page.len(), 3);
    let (first, first_phone) = s.phones[0];
    assert_eq!(page[0].id, first.to_string());
    // Another writer re-seals the first phone meanwhile.
    let b = sealer(&[("A", KEY_A), ("B", KEY_B)], "B");
    let theirs = b.seal(first_phone, &place.associated_data(&page[0].id));
    let n = s
        .app
        .store
        .read(move |c| Box::pin(nominations::get(c, first)))
        .await
        .unwrap()
        .unwrap();
    let mut family: serde_json::Value = serde_json::from_str(&n.family).unwrap();
    family["phone_sealed"] = json!(theirs);
    s.app
        .db
        .execute(&format!(
            "UPDATE nominations SET family = '{family}' WHERE id = '{first}'"
        ))
        .await;

    let mut page = page.into_iter();
    let stale = page.next().unwrap();
    let fresh = page.next().unwrap();
    let ours = b.seal(first_phone, &place.associated_data(&stale.id));
    let replaced = s
        .app
        .store
        .transaction(move |c| {
            Box::pin(async move {
                let stale_replaced = sealed::replace(c, &place, &stale, &ours).await?;
                let fresh_replaced = sealed::replace(c, &place, &fresh, "v1:B:new:value").await?;
                Ok::<_, jinguo_store::StoreError>((stale_replaced, fresh_replaced))
            })
        })
        .await
        .unwrap();
    assert_eq!(replaced, (false, true));
    assert_eq!(s.phone_sealed(first).await, theirs);
    assert_eq!(s.phone_sealed(s.phones[1].0).await, "v1:B:new:value");
    // The rest of the family record is kept as it was.
    let n = s
        .app
        .store
        .read({
            let id = s.phones[1].0;
            move |c| Box::pin(nominations::get(c, id))
        })
        .await
        .unwrap()
        .unwrap();
    let family = jinguo_nominations::family_of(&n);
    assert_eq!(family.head_name, "李秀英");
    let masked = format!("139****{}", &s.phones[1].1[7..]);
    assert_eq!(family.phone_masked.as_deref(), Some(masked.as_str()));
}

/// A sealed column nobody registered would never be rotated: every `…_sealed` column of the
/// migrated schema is a place in the registry.
async fn every_sealed_column_of_the_schema_is_in_the_registry(backend: Backend) {
    let db = jinguo_tests::TestDb::new(backend, Contents::Empty).await;
    let sealed_columns: Vec<String> = db
        .columns()
        .await
        .into_iter()
        .filter(|c| c.column_name.ends_with("_sealed"))
        .map(|c| format!("{}.{}", c.table_name, c.column_name))
        .collect();
    assert!(!sealed_columns.is_empty());
    for column in sealed_columns {
        assert!(
            PLACES.iter().any(|p| p.to_string() == column),
            "{column} is sealed but not in jinguo_store::sealed::PLACES"
        );
    }
}

on_both_backends!(
    every_sealed_column_of_the_schema_is_in_the_registry,
    rotation_reseals_every_value_under_the_new_key_until_the_old_key_can_go,
    a_value_no_configured_key_opens_stops_rotation_naming_its_row,
    an_interrupted_rotation_continues_where_it_stopped,
    a_value_changed_after_it_was_read_is_not_overwritten,
);
