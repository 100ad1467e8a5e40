//! Read models: what pages and the API may show of a nomination.

use chrono::{DateTime, Utc};
use jinguo_auth::seal::Sealer;
use jinguo_core::auth::Role;
use jinguo_core::nominations::{self as core, Level, State};
use jinguo_core::org::OrgCode;
use jinguo_store::nominations::{self as store};
use jinguo_store::{Conn, StoreError, orgs, people, staff};
use serde::Serialize;
use uuid::Uuid;

use crate::eligibility::{is_hidden_event, reveals_eligibility};
use crate::family::family_of;
use crate::refusal::{Refusal, corrupt};
use crate::review::{may_review, unit_for};
use crate::rules::Rules;

/// The history as `reveal`-less eyes may see it: the eligibility hold's own events left out,
/// its state shown as village review.
pub fn visible_history(steps: Vec<store::Step>, reveal: bool) -> Vec<store::Step> {
    if reveal {
        return steps;
    }
    steps
        .into_iter()
        .filter(|h| !is_hidden_event(&h.event))
        .map(|mut h| {
            let public = |s: &str| {
                s.parse::<State>()
                    .map_or_else(|_| s.to_owned(), |st| st.public().to_string())
            };
            h.from = public(&h.from);
            h.to = public(&h.to);
            h
        })
        .collect()
}

/// The history event of a level that opened without an active reviewer.
pub(crate) const NO_REVIEWER: &str = "no_reviewer";

/// Whether a nomination's current level has no active reviewer, as its history shows it (the
/// hold's own events do not count, so a held nomination stalls exactly like any other).
pub fn is_stalled(steps: &[store::Step]) -> bool {
    steps
        .iter()
        .rev()
        .find(|h| !is_hidden_event(&h.event))
        .is_some_and(|h| h.event == NO_REVIEWER)
}

/// What the reviewer's page shows (behind an emailed link or the task list): the nomination
/// as its detail page shows it (family members, village and township, channel, the earlier
/// levels' decisions and reasons), the contact phone opened, and the level's quota.
#[derive(Debug, Clone)]
pub struct ReviewView {
    pub level: Level,
    pub detail: Detail,
    /// The contact phone in full, opened for the reviewer to call the family.
    pub phone: Option<String>,
    pub quota: u32,
    pub quota_full: bool,
}

/// The reviewer's page, or why there is none for them.
#[derive(Debug, Clone)]
pub enum ReviewPage {
    Open(Box<ReviewView>),
    /// Not (or no longer) theirs to review; the state anyone may see.
    NotYours {
        now_in: State,
    },
    Missing,
}

/// The reviewer's page for nomination `id`: shown only to a person who may review it now
/// ([`may_review`]), with the phone opened by `sealer`.
pub async fn review_page(
    conn: &mut Conn<'_>,
    id: Uuid,
    reviewer: Uuid,
    sealer: &Sealer,
    now: DateTime<Utc>,
) -> Result<ReviewPage, StoreError> {
    let Some(n) = store::get(conn, id).await? else {
        return Ok(ReviewPage::Missing);
    };
    let (Some(level), true) = (
        n.state.review_level(),
        may_review(conn, reviewer, &n, now).await?,
    ) else {
        return Ok(ReviewPage::NotYours {
            now_in: n.state.public(),
        });
    };
    let rules: Option<Rules> = store::get_campaign(conn, n.campaign_id)
        .await?
        .and_then(|c| serde_json::from_str(&c.rules).ok());
    let unit = unit_for(n.village, level);
    let used = store::forwarded_count(conn, n.campaign_id, level.as_str(), unit.as_str()).await?;
    let quota = rules.map_or(0, |r| r.quotas.of(level));
    let phone = family_of(&n).phone(n.id, sealer);
    Ok(ReviewPage::Open(Box::new(ReviewView {
        level,
        phone,
        quota,
        quota_full: !core::within_quota(u32::try_from(used).unwrap_or(u32::MAX), quota),
        detail: detail_of(conn, n, reviewer, now).await?,
    })))
}

/// What a county case officer's eligibility page shows.
#[derive(Debug, Clone)]
pub struct EligibilityView {
    pub family: String,
    pub campaign: String,
    pub category: String,
    pub village: String,
    pub story: String,
}

/// The eligibility page, or why there is none.
#[derive(Debug, Clone)]
pub enum EligibilityPage {
    Open(EligibilityView),
    /// Decided already (or withdrawn): the state now.
    NotHeld {
        now_in: State,
    },
    /// Gone, or the person is no longer a case officer there.
    NotYours,
}

/// The held nomination `id` as case officer `officer` may see it.
pub async fn eligibility_page(
    conn: &mut Conn<'_>,
    id: Uuid,
    officer: Uuid,
    now: DateTime<Utc>,
) -> Result<EligibilityPage, StoreError> {
    let Some(n) = store::get(conn, id).await? else {
        return Ok(EligibilityPage::NotYours);
    };
    let village = n.village;
    if !reveals_eligibility(conn, officer, village, now).await? {
        return Ok(EligibilityPage::NotYours);
    }
    if n.state != State::EligibilityReview {
        return Ok(EligibilityPage::NotHeld { now_in: n.state });
    }
    let campaign = store::get_campaign(conn, n.campaign_id)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    Ok(EligibilityPage::Open(EligibilityView {
        family: family_of(&n).head_name,
        campaign,
        category: n.category,
        village: unit_name(conn, village).await?,
        story: n.story,
    }))
}

/// A nomination with its history, as `viewer` may see it.
#[derive(Debug, Clone)]
pub struct Detail {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub village: OrgCode,
    pub category: String,
    pub channel: String,
    pub state: State,
    pub history: Vec<store::Step>,
    /// The readable reference (`620122-2026-0042`); none for nominations made before
    /// references existed.
    pub reference: Option<String>,
    pub campaign: String,
    pub village_name: String,
    pub township_name: String,
    /// The family as kept, with its identifiers masked only (the sealed phone left out).
    pub family: ShownFamily,
    pub story: String,
    /// The display name of each person among the history's actors (by id).
    pub actor_names: Vec<(String, String)>,
}

/// What pages may show of a family: names, address and masked identifiers.
#[derive(Debug, Clone, Default)]
pub struct ShownFamily {
    pub head_name: String,
    /// The head's ID number or phone, masked (`6201**********1234`).
    pub head_key_masked: String,
    pub address: String,
    pub phone_masked: Option<String>,
    pub members: Vec<crate::family::Member>,
}

/// The readable reference of nomination `id` (the public form's confirmation).
pub async fn reference_of(conn: &mut Conn<'_>, id: Uuid) -> Result<Option<String>, StoreError> {
    store::reference(conn, id).await
}

/// Nomination `id` and its history as `viewer` may see them. Whether the viewer may see the
/// nomination at all (`nomination.view` at its village) is the caller's to ask first.
pub async fn nomination_detail(
    conn: &mut Conn<'_>,
    id: Uuid,
    viewer: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Detail>, Refusal> {
    match store::get(conn, id).await? {
        Some(n) => Ok(Some(detail_of(conn, n, viewer, now).await?)),
        None => Ok(None),
    }
}

/// Nomination `n` with its history, names and masked family, as `viewer` may see it.
async fn detail_of(
    conn: &mut Conn<'_>,
    n: store::NominationRow,
    viewer: Uuid,
    now: DateTime<Utc>,
) -> Result<Detail, StoreError> {
    let id = n.id;
    let village = n.village;
    let reveal = reveals_eligibility(conn, viewer, village, now).await?;
    let history = visible_history(store::history(conn, id).await?, reveal);
    let mut actor_names: Vec<(String, String)> = Vec::new();
    for h in &history {
        if let Ok(person) = h.actor.parse::<Uuid>()
            && !actor_names.iter().any(|(a, _)| *a == h.actor)
        {
            let name = jinguo_store::people::display_name(conn, person).await?;
            actor_names.push((h.actor.clone(), name));
        }
    }
    let campaign = store::get_campaign(conn, n.campaign_id)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    let township_name = match village.parent() {
        Some(t) => unit_name(conn, t).await?,
        None => String::new(),
    };
    let f = family_of(&n);
    Ok(Detail {
        id: n.id,
        campaign_id: n.campaign_id,
        village,
        category: n.category,
        channel: n.channel,
        state: if reveal { n.state } else { n.state.public() },
        history,
        reference: store::reference(conn, id).await?,
        campaign,
        village_name: unit_name(conn, village).await?,
        township_name,
        family: ShownFamily {
            head_name: f.head_name,
            head_key_masked: f.head_key_masked,
            address: f.address,
            phone_masked: f.phone_masked,
            members: f.members,
        },
        story: n.story,
        actor_names,
    })
}

/// A unit's name, empty when unknown.
async fn unit_name(conn: &mut Conn<'_>, unit: OrgCode) -> Result<String, StoreError> {
    Ok(orgs::get(conn, unit)
        .await?
        .map(|u| u.name)
        .unwrap_or_default())
}

/// A campaign as pages show it: its name, its area and its categories.
#[derive(Debug, Clone)]
pub struct CampaignSummary {
    pub name: String,
    pub scope: OrgCode,
    pub categories: Vec<String>,
}

pub async fn campaign_summary(
    conn: &mut Conn<'_>,
    id: Uuid,
) -> Result<Option<CampaignSummary>, Refusal> {
    let Some(c) = store::get_campaign(conn, id).await? else {
        return Ok(None);
    };
    let scope = OrgCode::parse(&c.scope_org).map_err(|e| corrupt("campaign area", e))?;
    let categories = serde_json::from_str::<Rules>(&c.rules)
        .map(|r| r.categories)
        .unwrap_or_default();
    Ok(Some(CampaignSummary {
        name: c.name,
        scope,
        categories,
    }))
}

/// A review task as its page needs it.
#[derive(Debug, Clone, Copy)]
pub struct TaskView {
    pub nomination: Uuid,
    pub reviewer: Uuid,
    pub closed: bool,
}

pub async fn task_view(conn: &mut Conn<'_>, task: Uuid) -> Result<Option<TaskView>, StoreError> {
    Ok(store::get_task(conn, task).await?.map(|t| TaskView {
        nomination: t.nomination_id,
        reviewer: t.reviewer,
        closed: t.closed,
    }))
}

/// One of a reviewer's open tasks, for their task list.
#[derive(Debug, Clone)]
pub struct OpenTask {
    pub task: Uuid,
    pub family: String,
    pub category: String,
    pub level: Option<Level>,
    pub due_at: Option<DateTime<Utc>>,
}

/// The open tasks of `reviewer`, oldest first.
pub async fn open_tasks(conn: &mut Conn<'_>, reviewer: Uuid) -> Result<Vec<OpenTask>, StoreError> {
    Ok(store::open_tasks_for(conn, reviewer)
        .await?
        .into_iter()
        .map(|(t, family, category)| OpenTask {
            task: t.id,
            family: serde_json::from_str::<crate::family::FamilyRecord>(&family)
                .map(|f| f.head_name)
                .unwrap_or_default(),
            category,
            level: Some(t.level),
            due_at: t.due_at,
        })
        .collect())
}

/// Which part of which campaign a list or its counts cover, and whose eyes read it.
#[derive(Debug, Clone, Copy)]
pub struct ListScope {
    pub campaign: Uuid,
    /// The campaign's own area: every nomination of the campaign lies within it.
    pub campaign_area: OrgCode,
    /// The part asked about: the campaign's area or a unit within it.
    pub area: OrgCode,
    pub viewer: Uuid,
}

/// What a campaign's dashboard, the list API and the exports ask for, in the words people use.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// The state as the viewer sees it.
    pub state: Option<State>,
    /// Only villages of this township.
    pub township: Option<OrgCode>,
    /// Only those with an open review task past its deadline.
    pub overdue: bool,
    /// Only those whose current level has no active reviewer.
    pub stalled: bool,
}

impl ListQuery {
    /// Whether anything narrows the list below the whole area.
    pub fn narrows(&self) -> bool {
        self.state.is_some() || self.township.is_some() || self.overdue || self.stalled
    }
}

/// One nomination as the dashboard, the list API and the exports show it: names, never
/// identifiers of the family (its head's name only).
#[derive(Debug, Clone, Serialize)]
pub struct ListedRow {
    pub id: Uuid,
    pub family: String,
    pub village: OrgCode,
    pub village_name: String,
    pub township: OrgCode,
    pub township_name: String,
    pub category: String,
    /// `self`, `others` or `organization`.
    pub channel: String,
    /// As the viewer may see it.
    pub state: State,
    pub created_at: DateTime<Utc>,
    /// The earliest deadline of its open review tasks.
    pub due_at: Option<DateTime<Utc>>,
    /// An open review task is past its deadline.
    pub overdue: bool,
    /// The current level has no active reviewer.
    pub stalled: bool,
}

/// Where a page of the list starts when asked by keyset (`after=`): just after the row this
/// names. Its text is opaque to clients: the creation time in nanoseconds and the id,
/// `1761955200000000000_3f2a…` — a page found this way costs the same however deep it is, and
/// a nomination submitted meanwhile neither repeats nor skips a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(store::ListKey);

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nanos = self.0.created_at.timestamp_nanos_opt().unwrap_or(i64::MAX);
        write!(f, "{nanos}_{}", self.0.id.simple())
    }
}

/// A text that is not a cursor this list handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a list cursor")]
pub struct BadCursor;

impl std::str::FromStr for Cursor {
    type Err = BadCursor;

    fn from_str(s: &str) -> Result<Cursor, BadCursor> {
        let (nanos, id) = s.split_once('_').ok_or(BadCursor)?;
        let nanos = nanos.parse::<i64>().map_err(|_| BadCursor)?;
        let id = Uuid::try_parse(id).map_err(|_| BadCursor)?;
        Ok(Cursor(store::ListKey {
            created_at: DateTime::from_timestamp_nanos(nanos),
            id,
        }))
    }
}

/// Which rows of a list to return: those after `after` (when given), skipping `offset` of
/// them, at most `limit` (`None`: all, for exports).
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub after: Option<Cursor>,
    pub offset: u64,
    pub limit: Option<u64>,
}

/// One page of a campaign's list: how many match in all, the rows asked for, and where the
/// next page starts (`None` on the last page).
#[derive(Debug, Clone)]
pub struct ListPage {
    pub total: u64,
    pub rows: Vec<ListedRow>,
    pub next: Option<Cursor>,
}

/// How many nominations one township holds in each state, as the viewer may see them.
#[derive(Debug, Clone)]
pub struct TownshipCounts {
    pub township: OrgCode,
    pub name: String,
    /// Every state with at least one nomination, in the order of [`State::ALL`].
    pub counts: Vec<(State, u64)>,
    pub total: u64,
}

/// What a campaign's dashboard shows: counts per township, one page of the list, and how many
/// nominations in the area have stalled.
#[derive(Debug, Clone)]
pub struct DashboardView {
    pub counts: Vec<TownshipCounts>,
    pub page: ListPage,
    pub stalled: u64,
}

/// The stored-query form of `q` for `scope`: a state people see stands for every stored state
/// shown as it (a held nomination is found under village review by all but the county case
/// officers, and under nothing else).
fn list_filter(
    scope: &ListScope,
    q: &ListQuery,
    reveal: bool,
    now: DateTime<Utc>,
) -> store::ListFilter {
    let states = q.state.map(|wanted| {
        State::ALL
            .into_iter()
            .filter(|s| {
                if reveal {
                    *s == wanted
                } else {
                    s.public() == wanted
                }
            })
            .map(|s| s.as_str().to_owned())
            .collect()
    });
    // The campaign's whole area is no filter: every nomination of the campaign lies in it.
    let area = (!scope.campaign_area.is_within(&scope.area)).then_some(scope.area);
    store::ListFilter {
        within: area.into_iter().chain(q.township).collect(),
        states,
        stalled: q.stalled,
        overdue_at: q.overdue.then_some(now),
    }
}

/// Counts per state per township of the campaign in the area, as the viewer may see them (a
/// held nomination counts as village review for all but the county case officers): one grouped
/// query, then the townships' names in one more.
async fn counts_for(
    conn: &mut Conn<'_>,
    scope: &ListScope,
    reveal: bool,
) -> Result<Vec<TownshipCounts>, StoreError> {
    let mut by_township: std::collections::BTreeMap<OrgCode, Vec<(State, u64)>> =
        std::collections::BTreeMap::new();
    for cell in store::village_state_counts(conn, scope.campaign, &scope.area).await? {
        let township = cell.village.at_level(jinguo_core::org::OrgLevel::Township);
        let state = if reveal {
            cell.state
        } else {
            cell.state.public()
        };
        let counts = by_township.entry(township).or_default();
        match counts.iter_mut().find(|(s, _)| *s == state) {
            Some((_, n)) => *n += cell.count,
            None => counts.push((state, cell.count)),
        }
    }
    let codes: Vec<OrgCode> = by_township.keys().copied().collect();
    let mut names = orgs::names(conn, &codes).await?;
    Ok(by_township
        .into_iter()
        .map(|(township, mut counts)| {
            counts.sort_by_key(|(s, _)| State::ALL.iter().position(|a| a == s));
            TownshipCounts {
                township,
                name: names.remove(&township).unwrap_or_default(),
                total: counts.iter().map(|(_, n)| n).sum(),
                counts,
            }
        })
        .collect())
}

/// The nominations of the campaign in the area matching `q`, newest first, as the viewer may
/// see them: the rows of `window`, how many match in all, and where the next page starts.
pub async fn campaign_page(
    conn: &mut Conn<'_>,
    scope: &ListScope,
    q: &ListQuery,
    window: Window,
    now: DateTime<Utc>,
) -> Result<ListPage, StoreError> {
    let reveal = reveals_eligibility(conn, scope.viewer, scope.area, now).await?;
    let filter = list_filter(scope, q, reveal, now);
    let total = store::count_filtered(conn, scope.campaign, &filter).await?;
    page_for(conn, scope, &filter, window, total, reveal, now).await
}

/// The campaign's dashboard in the area for the viewer: the counts, the page of `window` with
/// `q`, and the stalled count. Whether the viewer sees the eligibility hold is asked once; the
/// list's total comes from the counts unless `q` narrows it.
pub async fn campaign_dashboard(
    conn: &mut Conn<'_>,
    scope: &ListScope,
    q: &ListQuery,
    window: Window,
    now: DateTime<Utc>,
) -> Result<DashboardView, StoreError> {
    let reveal = reveals_eligibility(conn, scope.viewer, scope.area, now).await?;
    let counts = counts_for(conn, scope, reveal).await?;
    let filter = list_filter(scope, q, reveal, now);
    let total = if q.narrows() {
        store::count_filtered(conn, scope.campaign, &filter).await?
    } else {
        counts.iter().map(|t| t.total).sum()
    };
    let page = page_for(conn, scope, &filter, window, total, reveal, now).await?;
    let stalled = if q.stalled && q.state.is_none() && q.township.is_none() && !q.overdue {
        total
    } else {
        let only_stalled = ListQuery {
            stalled: true,
            ..ListQuery::default()
        };
        let filter = list_filter(scope, &only_stalled, reveal, now);
        store::count_filtered(conn, scope.campaign, &filter).await?
    };
    Ok(DashboardView {
        counts,
        page,
        stalled,
    })
}

/// The rows of `window` under `filter`, as the viewer may see them.
async fn page_for(
    conn: &mut Conn<'_>,
    scope: &ListScope,
    filter: &store::ListFilter,
    window: Window,
    total: u64,
    reveal: bool,
    now: DateTime<Utc>,
) -> Result<ListPage, StoreError> {
    let listed = if window.limit == Some(0) {
        Vec::new()
    } else {
        // One row more than asked: whether there is a next page.
        let slice = store::Slice {
            after: window.after.map(|c| c.0),
            offset: window.offset,
            limit: window.limit.map(|l| l.saturating_add(1)),
        };
        store::list_filtered(conn, scope.campaign, filter, slice).await?
    };
    let more = window
        .limit
        .is_some_and(|l| u64::try_from(listed.len()).unwrap_or(u64::MAX) > l);
    let mut rows = Vec::with_capacity(listed.len());
    for n in listed
        .into_iter()
        .take(usize::try_from(window.limit.unwrap_or(u64::MAX)).unwrap_or(usize::MAX))
    {
        rows.push(ListedRow {
            id: n.id,
            family: serde_json::from_str::<crate::family::FamilyRecord>(&n.family)
                .map(|f| f.head_name)
                .unwrap_or_default(),
            village: n.village,
            village_name: n.village_name.unwrap_or_default(),
            township: n.village.at_level(jinguo_core::org::OrgLevel::Township),
            township_name: n.township_name.unwrap_or_default(),
            category: n.category,
            channel: n.channel,
            state: if reveal { n.state } else { n.state.public() },
            created_at: n.created_at,
            overdue: n.due_at.is_some_and(|d| d < now),
            due_at: n.due_at,
            stalled: n.last_visible_event.as_deref() == Some(NO_REVIEWER),
        });
    }
    let next = rows.last().filter(|_| more).map(|r| {
        Cursor(store::ListKey {
            created_at: r.created_at,
            id: r.id,
        })
    });
    Ok(ListPage { total, rows, next })
}

/// An open task of a nomination's current level as the reassign form shows it: whose it is and
/// whom it may pass to (the unit's other active reviewers, by name).
#[derive(Debug, Clone)]
pub struct ReassignChoice {
    pub task: Uuid,
    pub reviewer: String,
    pub candidates: Vec<(Uuid, String)>,
}

/// The open tasks of `nomination`'s current level with the reviewers each may pass to; none when
/// it is not under review.
pub async fn reassign_choices(
    conn: &mut Conn<'_>,
    nomination: Uuid,
) -> Result<Vec<ReassignChoice>, StoreError> {
    let Some(n) = store::get(conn, nomination).await? else {
        return Ok(Vec::new());
    };
    let Some(level) = n.state.review_level() else {
        return Ok(Vec::new());
    };
    let open: Vec<store::Task> = store::tasks(conn, nomination, level.as_str())
        .await?
        .into_iter()
        .filter(|t| !t.closed)
        .collect();
    let mut choices = Vec::new();
    for t in &open {
        let mut candidates = Vec::new();
        for r in staff::holders_at(conn, Role::Reviewer, t.unit).await? {
            if open.iter().all(|o| o.reviewer != r) {
                candidates.push((r, people::display_name(conn, r).await?));
            }
        }
        choices.push(ReassignChoice {
            task: t.id,
            reviewer: people::display_name(conn, t.reviewer).await?,
            candidates,
        });
    }
    Ok(choices)
}
