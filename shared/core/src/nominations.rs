//! 最美家庭 nominations: the states a nomination moves through, the only transitions between
//! them, eligibility at submission, and the campaign rules that steer both. Pure: no I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::org::OrgLevel;

/// Where a nomination is. JSON names as the API shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Held for the county case officers before any review (the household carries an incident
    /// flag). Shown to everyone else as [`State::VillageReview`]: see [`State::public`].
    EligibilityReview,
    VillageReview,
    VillagePublicity,
    TownshipReview,
    CountyReview,
    Publicity,
    Awarded,
    Rejected,
    Returned,
    Withdrawn,
    UnderInvestigation,
    Revoked,
}

impl State {
    pub const ALL: [State; 12] = [
        State::EligibilityReview,
        State::VillageReview,
        State::VillagePublicity,
        State::TownshipReview,
        State::CountyReview,
        State::Publicity,
        State::Awarded,
        State::Rejected,
        State::Returned,
        State::Withdrawn,
        State::UnderInvestigation,
        State::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::EligibilityReview => "eligibility_review",
            State::VillageReview => "village_review",
            State::VillagePublicity => "village_publicity",
            State::TownshipReview => "township_review",
            State::CountyReview => "county_review",
            State::Publicity => "publicity",
            State::Awarded => "awarded",
            State::Rejected => "rejected",
            State::Returned => "returned",
            State::Withdrawn => "withdrawn",
            State::UnderInvestigation => "under_investigation",
            State::Revoked => "revoked",
        }
    }

    /// The state as anyone but the county case officers may see it: a nomination held for
    /// eligibility looks like one in village review, so no page, list or answer can tell that
    /// its household has a record.
    pub fn public(self) -> State {
        match self {
            State::EligibilityReview => State::VillageReview,
            s => s,
        }
    }

    /// The review level this state waits on, if it is a review.
    pub fn review_level(self) -> Option<Level> {
        match self {
            State::VillageReview => Some(Level::Village),
            State::TownshipReview => Some(Level::Township),
            State::CountyReview => Some(Level::County),
            _ => None,
        }
    }

    /// No transition leaves these.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            State::Awarded | State::Rejected | State::Withdrawn | State::Revoked
        )
    }

    /// Counts against "one open nomination per household per campaign".
    pub fn is_open(self) -> bool {
        !self.is_final()
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a nomination state"))
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [Level::Village, Level::Township, Level::County]
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a review level"))
    }
}

/// The three review levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Village,
    Township,
    County,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Village => "village",
            Level::Township => "township",
            Level::County => "county",
        }
    }

    /// 村级 / 乡镇级 / 县级
    pub fn label(self) -> &'static str {
        match self {
            Level::Village => "村级",
            Level::Township => "乡镇级",
            Level::County => "县级",
        }
    }

    /// The level of the org units that review at this level.
    pub fn org_level(self) -> OrgLevel {
        match self {
            Level::Village => OrgLevel::Village,
            Level::Township => OrgLevel::Township,
            Level::County => OrgLevel::County,
        }
    }

    /// The level whose reviewers may act for this one when its deadline passes (none above the
    /// county).
    pub fn above(self) -> Option<Level> {
        match self {
            Level::Village => Some(Level::Township),
            Level::Township => Some(Level::County),
            Level::County => None,
        }
    }

    /// The review level units of `org` review at, if any (none above a county).
    pub fn reviewed_by(org: OrgLevel) -> Option<Level> {
        [Level::Village, Level::Township, Level::County]
            .into_iter()
            .find(|l| l.org_level() == org)
    }
}

/// What happens to a nomination. Every change of state is one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    Approved {
        level: Level,
    },
    Rejected {
        level: Level,
    },
    Returned {
        level: Level,
    },
    /// A returned nomination sent in again.
    Resubmitted,
    /// The village 公示 ended without objection.
    VillagePublicityEnded,
    /// The county 公示 ended without objection.
    PublicityEnded,
    /// An objection during a 公示.
    Objected,
    /// The investigation found the objection unfounded: the 公示 it paused (`VillagePublicity` or
    /// `Publicity`) goes on for the time that was left.
    Cleared {
        back_to: State,
    },
    /// The investigation upheld the objection.
    Revoked,
    Withdrawn,
    /// The household carries an incident flag: the county case officers decide first.
    EligibilityHeld,
    /// The case officers let it continue: it enters village review as if just submitted.
    EligibilityCleared,
    /// The case officers closed it: it ends as an ordinary rejection.
    EligibilityClosed,
}

/// Why an event cannot happen in a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event} is not possible while the nomination is {state}")]
pub struct Illegal {
    pub state: State,
    pub event: String,
}

/// The campaign rules the state machine needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Whether a village 公示 follows village approval.
    pub village_publicity: bool,
}

/// The one transition function: the next state, or why not. Nothing else changes a state.
pub fn next(state: State, event: Event, flow: Flow) -> Result<State, Illegal> {
    use State::*;
    let to = match (state, event) {
        (s, Event::Approved { level }) if s.review_level() == Some(level) => match level {
            Level::Village if flow.village_publicity => VillagePublicity,
            Level::Village => TownshipReview,
            Level::Township => CountyReview,
            Level::County => Publicity,
        },
        (s, Event::Rejected { level }) if s.review_level() == Some(level) => Rejected,
        (s, Event::Returned { level }) if s.review_level() == Some(level) => Returned,
        (Returned, Event::Resubmitted) => VillageReview,
        (VillagePublicity, Event::VillagePublicityEnded) => TownshipReview,
        (Publicity, Event::PublicityEnded) => Awarded,
        (VillagePublicity | Publicity, Event::Objected) => UnderInvestigation,
        (UnderInvestigation, Event::Cleared { back_to })
            if back_to == Publicity || (back_to == VillagePublicity && flow.village_publicity) =>
        {
            back_to
        }
        (UnderInvestigation, Event::Revoked) => Revoked,
        (s, Event::Withdrawn) if !s.is_final() && s != UnderInvestigation => Withdrawn,
        (VillageReview, Event::EligibilityHeld) => EligibilityReview,
        (EligibilityReview, Event::EligibilityCleared) => VillageReview,
        (EligibilityReview, Event::EligibilityClosed) => Rejected,
        _ => {
            return Err(Illegal {
                state,
                event: format!("{event:?}"),
            });
        }
    };
    Ok(to)
}

/// 事迹: the family's story, 50–5,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Story(String);

impl Story {
    pub const MIN: usize = 50;
    pub const MAX: usize = 5_000;

    /// Counted in characters after invisible ones are removed; control characters are refused.
    /// The refusal is Chinese, for the form.
    pub fn parse(s: &str) -> Result<Story, String> {
        crate::text::multi_line(s, Self::MIN, Self::MAX)
            .map(Story)
            .map_err(|e| e.message())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a public 公示 page shows of a story: its first `max` characters, with every run of six
/// or more digits (an ID number, a phone, a house number with its room) and each of `hidden`
/// (the family's address) masked before it is cut, so no part of them survives the cut.
pub fn public_summary(story: &str, hidden: &[&str], max: usize) -> String {
    let mut text = story.to_owned();
    for h in hidden.iter().filter(|h| h.chars().count() >= 2) {
        text = text.replace(h, "（略）");
        // Part of it too: a story names the village and house without the county before them.
        let chars: Vec<char> = h.chars().collect();
        for piece in chars.windows(4) {
            let piece: String = piece.iter().collect();
            if text.contains(&piece) {
                text = text.replace(&piece, "**");
            }
        }
    }
    let mut out = String::with_capacity(text.len());
    // A run of digits with what may sit inside a number (spaces, dashes, an ID number's X).
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().filter(char::is_ascii_digit).count() >= 6 {
            out.push_str("******");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        // Full-width digits are digits.
        let c = match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            c => c,
        };
        // What people put between the digits of one number.
        let inside = !run.is_empty()
            && matches!(
                c,
                'X' | 'x' | ' ' | '\u{3000}' | '-' | '－' | '—' | '.' | '．' | '·' | '/'
            );
        if c.is_ascii_digit() || inside {
            run.push(c);
        } else if !run.is_empty() && is_house_word(c) {
            // 3组15号: the numbers of a house, however short.
            run.clear();
            out.push('*');
            out.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    let out = out.trim().to_owned();
    if out.chars().count() > max {
        let cut: String = out.chars().take(max).collect();
        format!("{cut}…")
    } else {
        out
    }
}

/// The words that follow the numbers of an address (3组, 15号, 2单元, 301室).
fn is_house_word(c: char) -> bool {
    matches!(
        c,
        '组' | '号' | '栋' | '幢' | '单' | '室' | '户' | '社' | '巷' | '弄' | '楼'
    )
}

/// How a nomination came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 本人自荐
    #[serde(rename = "self")]
    SelfNominated,
    /// 他人推荐
    Others,
    /// 组织推荐
    Organization,
}

/// A household's record as eligibility sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HouseholdRecord {
    /// Categories awarded in earlier campaigns.
    pub awarded_categories: Vec<String>,
    /// Set by the referrals program. Never shown to anyone but county case officers.
    pub incident_flag: bool,
    /// Whether the household already has an open nomination in this campaign.
    pub open_in_campaign: bool,
}

/// Why a household may not be nominated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ineligible {
    AlreadyAwarded {
        category: String,
    },
    OpenNomination,
    /// Told only to county case officers (who may submit and see why); for everyone else a
    /// flagged household's nomination is accepted and held ([`Admission::Held`]).
    IncidentFlag,
}

impl Ineligible {
    /// The rule, in a field-and-message pair for the API.
    pub fn rule(&self) -> &'static str {
        match self {
            Ineligible::AlreadyAwarded { .. } => "already_awarded",
            Ineligible::OpenNomination => "open_nomination",
            Ineligible::IncidentFlag => "incident_flag",
        }
    }

    /// What the nominator reads.
    pub fn message(&self) -> String {
        match self {
            Ineligible::AlreadyAwarded { category } => {
                format!("该家庭已在往届评选中获得“{category}”称号，不能重复推荐同一类别")
            }
            Ineligible::OpenNomination => "该家庭在本次评选中已有一份正在进行的推荐".to_owned(),
            Ineligible::IncidentFlag => {
                "该家庭在反家暴联动机制中有事件记录，不能参评（此原因仅县级个案专员可见）"
                    .to_owned()
            }
        }
    }
}

/// How an eligible submission goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Straight to village review.
    Review,
    /// The household carries an incident flag: accepted exactly like any other, but held in
    /// [`State::EligibilityReview`] for the county case officers.
    Held,
}

/// Eligibility at submission. The ordinary rules come first and answer for themselves; the
/// incident flag never refuses (that would make the form an oracle): it holds.
pub fn admit(record: &HouseholdRecord, category: &str) -> Result<Admission, Ineligible> {
    if record.awarded_categories.iter().any(|c| c == category) {
        return Err(Ineligible::AlreadyAwarded {
            category: category.to_owned(),
        });
    }
    if record.open_in_campaign {
        return Err(Ineligible::OpenNomination);
    }
    Ok(if record.incident_flag {
        Admission::Held
    } else {
        Admission::Review
    })
}

/// Whether a level may forward one more: `forwarded` already sent up by that unit, `quota`
/// its limit (0: no limit).
pub fn within_quota(forwarded: u32, quota: u32) -> bool {
    quota == 0 || forwarded < quota
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const WITH: Flow = Flow {
        village_publicity: true,
    };
    const WITHOUT: Flow = Flow {
        village_publicity: false,
    };

    fn run(flow: Flow, events: &[Event]) -> Result<State, Illegal> {
        events
            .iter()
            .try_fold(State::VillageReview, |s, e| next(s, *e, flow))
    }

    #[test]
    fn the_happy_path_reaches_publicity_then_awarded() {
        use Event::*;
        let path = [
            Approved {
                level: Level::Village,
            },
            VillagePublicityEnded,
            Approved {
                level: Level::Township,
            },
            Approved {
                level: Level::County,
            },
        ];
        assert_eq!(run(WITH, &path), Ok(State::Publicity));
        assert_eq!(
            run(WITHOUT, &[path[0], path[2], path[3]]),
            Ok(State::Publicity)
        );
        assert_eq!(
            next(State::Publicity, PublicityEnded, WITH),
            Ok(State::Awarded)
        );
    }

    #[test]
    fn a_level_decides_only_its_own_review() {
        let e = next(
            State::VillageReview,
            Event::Approved {
                level: Level::County,
            },
            WITH,
        )
        .unwrap_err();
        assert_eq!(e.state, State::VillageReview);
        assert!(
            next(
                State::Publicity,
                Event::Rejected {
                    level: Level::County
                },
                WITH
            )
            .is_err()
        );
    }

    #[test]
    fn objections_pause_a_publicity_that_resumes_or_ends_revoked() {
        assert_eq!(
            next(State::Publicity, Event::Objected, WITH),
            Ok(State::UnderInvestigation)
        );
        assert_eq!(
            next(State::VillagePublicity, Event::Objected, WITH),
            Ok(State::UnderInvestigation)
        );
        for back_to in [State::Publicity, State::VillagePublicity] {
            assert_eq!(
                next(State::UnderInvestigation, Event::Cleared { back_to }, WITH),
                Ok(back_to)
            );
        }
        assert!(
            next(
                State::UnderInvestigation,
                Event::Cleared {
                    back_to: State::Awarded
                },
                WITH
            )
            .is_err()
        );
        assert_eq!(
            next(State::UnderInvestigation, Event::Revoked, WITH),
            Ok(State::Revoked)
        );
        assert!(next(State::UnderInvestigation, Event::Withdrawn, WITH).is_err());
    }

    #[test]
    fn public_summaries_never_hold_a_number_or_the_address() {
        let story = "王家住在榆中县城关镇兴隆村3组15号，电话13912345678，身份证620102198001011234X，\
                     家中四代同堂，孝老爱亲。";
        let shown = public_summary(story, &["榆中县城关镇兴隆村3组15号"], 200);
        assert!(!shown.contains("13912345678"), "{shown}");
        assert!(!shown.contains("620102"), "{shown}");
        assert!(!shown.contains("兴隆村3组"), "{shown}");
        assert!(shown.contains("四代同堂"), "{shown}");
        // Spaced, dashed and full-width numbers are numbers too; short ones stay.
        let shown = public_summary(
            "电话 139 1234 5678，或１３９１２３４５６７８，家有3口人",
            &[],
            200,
        );
        assert!(
            !shown.contains("5678") && !shown.contains("５６７８"),
            "{shown}"
        );
        assert!(shown.contains("3口人"), "{shown}");
        // Ideographic spaces and full-width dashes join a number; a house's numbers go however
        // short; part of the address goes too.
        let shown = public_summary(
            "电话139　1234　5678，或139－1234－5678，家住兴隆村3组15号",
            &["榆中县城关镇兴隆村3组15号"],
            200,
        );
        assert!(
            !shown.contains("5678") && !shown.contains("15号"),
            "{shown}"
        );
        assert!(!shown.contains("兴隆村"), "{shown}");
        // Cut after masking: the start of a number at the cut is masked too.
        let long = format!("{}13912345678", "好".repeat(195));
        let shown = public_summary(&long, &[], 200);
        assert!(!shown.contains("13912"), "{shown}");
        assert_eq!(
            public_summary(&"好".repeat(300), &[], 200).chars().count(),
            201
        );
    }

    #[test]
    fn returned_nominations_start_again_at_the_village() {
        let s = next(
            State::TownshipReview,
            Event::Returned {
                level: Level::Township,
            },
            WITH,
        )
        .unwrap();
        assert_eq!(next(s, Event::Resubmitted, WITH), Ok(State::VillageReview));
    }

    #[test]
    fn eligibility_names_the_ordinary_rules_and_holds_a_flagged_household() {
        let clean = HouseholdRecord::default();
        assert_eq!(admit(&clean, "最美家庭"), Ok(Admission::Review));
        let awarded = HouseholdRecord {
            awarded_categories: vec!["最美家庭".into()],
            ..Default::default()
        };
        assert_eq!(admit(&awarded, "五好家庭"), Ok(Admission::Review));
        assert_eq!(
            admit(&awarded, "最美家庭").unwrap_err().rule(),
            "already_awarded"
        );
        let flagged = HouseholdRecord {
            incident_flag: true,
            ..Default::default()
        };
        assert_eq!(admit(&flagged, "最美家庭"), Ok(Admission::Held));
        let flagged_and_open = HouseholdRecord {
            incident_flag: true,
            open_in_campaign: true,
            ..Default::default()
        };
        assert_eq!(
            admit(&flagged_and_open, "最美家庭"),
            Err(Ineligible::OpenNomination),
            "the ordinary rule answers exactly as for any household"
        );
    }

    #[test]
    fn a_held_nomination_looks_like_village_review_and_leaves_it_by_the_officers() {
        assert_eq!(State::EligibilityReview.public(), State::VillageReview);
        assert_eq!(State::Publicity.public(), State::Publicity);
        let held = next(State::VillageReview, Event::EligibilityHeld, WITH).unwrap();
        assert_eq!(held, State::EligibilityReview);
        assert_eq!(
            next(held, Event::EligibilityCleared, WITH),
            Ok(State::VillageReview)
        );
        assert_eq!(
            next(held, Event::EligibilityClosed, WITH),
            Ok(State::Rejected)
        );
        assert!(
            next(
                held,
                Event::Approved {
                    level: Level::Village
                },
                WITH
            )
            .is_err(),
            "no reviewer decides a held nomination"
        );
    }

    #[test]
    fn stories_are_length_checked_in_characters() {
        assert!(Story::parse(&"好".repeat(49)).is_err());
        assert!(Story::parse(&"好".repeat(50)).is_ok());
        assert!(Story::parse(&"好".repeat(5001)).is_err());
    }

    #[test]
    fn quotas() {
        assert!(within_quota(0, 1));
        assert!(!within_quota(1, 1));
        assert!(within_quota(99, 0), "0 means no limit");
    }

    fn any_event() -> impl Strategy<Value = Event> {
        let level = prop_oneof![
            Just(Level::Village),
            Just(Level::Township),
            Just(Level::County)
        ];
        prop_oneof![
            level.clone().prop_map(|level| Event::Approved { level }),
            level.clone().prop_map(|level| Event::Rejected { level }),
            level.prop_map(|level| Event::Returned { level }),
            Just(Event::Resubmitted),
            Just(Event::VillagePublicityEnded),
            Just(Event::PublicityEnded),
            Just(Event::Objected),
            Just(Event::Cleared {
                back_to: State::Publicity
            }),
            Just(Event::Cleared {
                back_to: State::VillagePublicity
            }),
            Just(Event::Cleared {
                back_to: State::Awarded
            }),
            Just(Event::Revoked),
            Just(Event::Withdrawn),
            Just(Event::EligibilityHeld),
            Just(Event::EligibilityCleared),
            Just(Event::EligibilityClosed),
        ]
    }

    proptest! {
        /// Whatever is attempted, a nomination only ever moves along the allowed edges: final
        /// states never change, awards come only from 公示 (a cleared investigation goes back to it), and a
        /// level is only ever decided while it is under review.
        #[test]
        fn only_allowed_transitions_happen(events in proptest::collection::vec(any_event(), 0..40), village_publicity: bool) {
            let flow = Flow { village_publicity };
            let mut state = State::VillageReview;
            for e in events {
                match next(state, e, flow) {
                    Ok(to) => {
                        prop_assert!(!state.is_final(), "{state} is final but moved to {to}");
                        if to == State::EligibilityReview {
                            prop_assert_eq!(state, State::VillageReview);
                        }
                        if to == State::Awarded {
                            prop_assert_eq!(state, State::Publicity);
                        }
                        if to == State::VillagePublicity {
                            prop_assert!(village_publicity);
                        }
                        if let Event::Approved { level } | Event::Rejected { level } | Event::Returned { level } = e {
                            prop_assert_eq!(state.review_level(), Some(level));
                        }
                        state = to;
                    }
                    Err(err) => prop_assert_eq!(err.state, state),
                }
            }
        }
    }
}
