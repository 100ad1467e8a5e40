//! The daily digest: on working days at 09:00 (the cron job `review_digest`) each reviewer with
//! open review tasks gets one mail listing them — family, level, due date, overdue first — each
//! with its task page; each county admin whose county has units stalled for want of a reviewer
//! gets those units with their counts in the same mail. Nobody with nothing open gets anything.
//!
//! What it guarantees:
//! - a task is listed only while it is current: open, and its nomination under review at the
//!   task's level (a nomination held for eligibility review is in no review state, so it is
//!   never listed);
//! - one mail per person, composed in the caller's transaction (see `jobs::on_review_digest`
//!   for why a redelivered tick mails nobody twice);
//! - no new secrets: an item links the signed-in task page, not a one-time link;
//! - a bounded number of queries: the open tasks and the stalled counts are one query each, then
//!   one per county with stalls and one or two per recipient.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use jinguo_core::auth::Role;
use jinguo_core::nominations::{Level, State};
use jinguo_core::notify::Urgency;
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_mail::{DailyDigest, DigestItem, StalledUnit};
use jinguo_store::nominations as store;
use jinguo_store::{Conn, orgs, people, staff};
use uuid::Uuid;

use crate::family::FamilyRecord;
use crate::refusal::Refusal;
use crate::review::unit_for;
use crate::settings::Links;

/// The message the cron job `review_digest` sends on working days.
pub const REVIEW_DIGEST: &str = "nomination.review_digest";

/// The states in which a nomination has current review tasks.
const UNDER_REVIEW: [State; 3] = [
    State::VillageReview,
    State::TownshipReview,
    State::CountyReview,
];

/// The states in which a nomination can be stalled for want of a reviewer, with the level it
/// waits at: the eligibility hold stalls at the village like village review.
const STALLABLE: [(State, Level); 4] = [
    (State::VillageReview, Level::Village),
    (State::EligibilityReview, Level::Village),
    (State::TownshipReview, Level::Township),
    (State::CountyReview, Level::County),
];

/// One person's digest while it is being gathered.
#[derive(Default)]
struct Gathered {
    /// Each item with its due time, for the order.
    items: Vec<(Option<DateTime<Utc>>, DigestItem)>,
    stalled: Vec<StalledUnit>,
}

/// Mails today's digest to every active person with something in it; returns how many mails.
pub async fn send_digests(
    conn: &mut Conn<'_>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<usize, Refusal> {
    let mut digests: BTreeMap<Uuid, Gathered> = BTreeMap::new();
    for open in store::open_review_tasks(conn, &UNDER_REVIEW).await? {
        let task = &open.task;
        if open.state.review_level() != Some(task.level) {
            continue;
        }
        let family = serde_json::from_str::<FamilyRecord>(&open.family)
            .map(|f| f.head_name)
            .unwrap_or_default();
        let item = DigestItem {
            title: format!("{family}家庭的{}推荐", open.category),
            level: task.level.label().to_owned(),
            due: task.due_at.map(|d| links.in_words(d)),
            overdue: task.due_at.is_some_and(|d| d < now),
            link: format!("{}/tasks/{}", links.public_url, task.id),
        };
        digests
            .entry(task.reviewer)
            .or_default()
            .items
            .push((task.due_at, item));
    }
    for (admin, units) in stalled_units(conn, links).await? {
        digests.entry(admin).or_default().stalled = units;
    }
    let date = {
        let local = now.with_timezone(&links.time_zone);
        format!("{}年{}月{}日", local.year(), local.month(), local.day())
    };
    let mut sent = 0;
    for (person_id, gathered) in digests {
        if !staff::is_active(conn, person_id).await? {
            continue;
        }
        let Some(person) = people::get(conn, person_id).await? else {
            continue;
        };
        let digest = DailyDigest {
            recipient: person.display_name.clone(),
            date: date.clone(),
            items: in_order(gathered.items, now),
            stalled: gathered.stalled,
        };
        jinguo_mail::notify_person(conn, &person, &digest, Urgency::Normal, now).await?;
        sent += 1;
    }
    tracing::info!(sent, "daily digest composed");
    Ok(sent)
}

/// Overdue first, then by due time (no deadline last); ties keep the order given (oldest task
/// first).
fn in_order(
    mut items: Vec<(Option<DateTime<Utc>>, DigestItem)>,
    now: DateTime<Utc>,
) -> Vec<DigestItem> {
    items.sort_by_key(|(due, _)| (!due.is_some_and(|d| d < now), due.is_none(), *due));
    items.into_iter().map(|(_, item)| item).collect()
}

/// The stalled units each admin is told about: every unit within their county (or above: a
/// city admin hears of all its counties) where nominations wait for want of a reviewer, by
/// name, with how many wait there, in code order.
async fn stalled_units(
    conn: &mut Conn<'_>,
    links: &Links,
) -> Result<BTreeMap<Uuid, Vec<StalledUnit>>, Refusal> {
    let states: Vec<State> = STALLABLE.iter().map(|(s, _)| *s).collect();
    // county → unit → (level, count)
    let mut counties: BTreeMap<OrgCode, BTreeMap<OrgCode, (Level, u64)>> = BTreeMap::new();
    for cell in store::stalled_counts(conn, &states).await? {
        let Some(&(_, level)) = STALLABLE.iter().find(|(s, _)| *s == cell.state) else {
            continue;
        };
        let unit = unit_for(cell.village, level);
        let county = cell.village.at_level(OrgLevel::County);
        let entry = counties
            .entry(county)
            .or_default()
            .entry(unit)
            .or_insert((level, 0));
        entry.1 += cell.count;
    }
    let codes: Vec<OrgCode> = counties.values().flat_map(|u| u.keys().copied()).collect();
    let names = orgs::names(conn, &codes).await?;
    let mut told: BTreeMap<Uuid, Vec<StalledUnit>> = BTreeMap::new();
    for (county, units) in counties {
        let listed: Vec<StalledUnit> = units
            .into_iter()
            .map(|(unit, (level, count))| StalledUnit {
                unit: names
                    .get(&unit)
                    .cloned()
                    .unwrap_or_else(|| "（未登记的单位）".to_owned()),
                level: level.label().to_owned(),
                count,
                link: format!("{}/admin/staff?org={county}&unit={unit}", links.public_url),
            })
            .collect();
        for admin in staff::holders_above(conn, Role::Admin, county).await? {
            told.entry(admin)
                .or_default()
                .extend(listed.iter().cloned());
        }
    }
    Ok(told)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(title: &str) -> DigestItem {
        DigestItem {
            title: title.into(),
            level: "村级".into(),
            due: None,
            overdue: false,
            link: String::new(),
        }
    }

    #[test]
    fn overdue_come_first_then_by_due_and_no_deadline_last() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let now = at("2026-11-30T01:00:00Z");
        let items = vec![
            (None, item("none")),
            (Some(at("2026-12-03T09:30:00Z")), item("later")),
            (Some(at("2026-11-27T09:30:00Z")), item("overdue-old")),
            (Some(at("2026-12-01T09:30:00Z")), item("sooner")),
            (Some(at("2026-11-29T09:30:00Z")), item("overdue-new")),
        ];
        let titles: Vec<String> = in_order(items, now).into_iter().map(|i| i.title).collect();
        assert_eq!(
            titles,
            ["overdue-old", "overdue-new", "sooner", "later", "none"]
        );
    }

    #[test]
    fn every_review_state_is_stallable_at_its_own_level() {
        for state in UNDER_REVIEW {
            assert!(
                STALLABLE
                    .iter()
                    .any(|(s, l)| *s == state && state.review_level() == Some(*l))
            );
        }
    }
}
