//! The public 公示 boards: who is in a campaign's county 公示, or in a village's, as anyone
//! may see them without signing in. Names of people and places, the category, a summary of the
//! story with numbers and the address masked, and when the period ends: never an ID number,
//! phone, address or code.

use chrono::{DateTime, Utc};
use jinguo_core::nominations::{State, public_summary};
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_store::nominations as store;
use jinguo_store::{Conn, StoreError, orgs};
use uuid::Uuid;

use crate::family::family_of;
use crate::publicity::publicity_timer;
use crate::settings::Links;

/// How much of a story a board shows.
pub const SUMMARY_CHARS: usize = 200;

/// A board: the campaign's name and the families on it.
#[derive(Debug, Clone)]
pub struct Board {
    pub campaign: String,
    /// The village's name, for a village board.
    pub village: Option<String>,
    pub entries: Vec<BoardEntry>,
}

#[derive(Debug, Clone)]
pub struct BoardEntry {
    /// What the objection form sends back (never shown).
    pub nomination: Uuid,
    pub family: String,
    pub township: String,
    pub village: String,
    pub category: String,
    pub summary: String,
    /// When the period ends, in words (`None`: ending now).
    pub ends: Option<String>,
    /// An objection is being investigated: the period's clock has stopped.
    pub paused: bool,
}

/// The county 公示 board of `campaign` (`village`: `None`), or the village 公示 board of one
/// village. `None` when the campaign does not exist. Nominations paused by an objection stay
/// on the board they were on, marked as paused.
pub async fn publicity_board(
    conn: &mut Conn<'_>,
    campaign: Uuid,
    village: Option<OrgCode>,
    links: &Links,
    now: DateTime<Utc>,
) -> Result<Option<Board>, StoreError> {
    let Some(c) = store::get_campaign(conn, campaign).await? else {
        return Ok(None);
    };
    if village.is_some_and(|v| v.level() != OrgLevel::Village) {
        return Ok(None);
    }
    let publicity = if village.is_some() {
        State::VillagePublicity
    } else {
        State::Publicity
    };
    let rows = store::in_states(
        conn,
        campaign,
        &[publicity, State::UnderInvestigation],
        village,
    )
    .await?;
    let mut codes: Vec<OrgCode> = rows
        .iter()
        .flat_map(|n| [n.village, n.village.at_level(OrgLevel::Township)])
        .chain(village)
        .collect();
    codes.sort();
    codes.dedup();
    let names = orgs::names(conn, &codes).await?;
    let name = |code: &OrgCode| names.get(code).cloned().unwrap_or_default();
    let mut entries = Vec::new();
    for n in rows {
        let paused = n.state == State::UnderInvestigation;
        let ends = if paused {
            let paused = jinguo_store::objections::open_for(conn, n.id).await?;
            if paused.is_none_or(|i| i.publicity != publicity) {
                continue;
            }
            None
        } else {
            jinguo_store::timers::get(conn, &publicity_timer(n.id, publicity))
                .await?
                .map(|t| links.in_words(t.due_at.max(now)))
        };
        let family = family_of(&n);
        entries.push(BoardEntry {
            nomination: n.id,
            summary: public_summary(&n.story, &[family.address.as_str()], SUMMARY_CHARS),
            family: family.head_name,
            township: name(&n.village.at_level(OrgLevel::Township)),
            village: name(&n.village),
            category: n.category,
            ends,
            paused,
        });
    }
    Ok(Some(Board {
        campaign: c.name,
        village: village.map(|v| name(&v)),
        entries,
    }))
}
