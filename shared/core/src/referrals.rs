//! Domestic-violence referrals (反家暴联动机制): the states a case moves through, agency tasks
//! and theirs, risk grading from the configured questionnaire, case numbers, and the escalation
//! ladder's arithmetic. Pure: no I/O, no clock.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::auth::{Agency, Role};
use crate::org::{OrgCode, OrgLevel};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal / $label:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            /// The name federation staff read.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),* }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!(
                        "{s:?} is not one of: {}",
                        $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                    ))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Where a case is.
    State {
        Intake = "intake" / "待评估",
        Assessed = "assessed" / "已评估",
        Active = "active" / "联动处置中",
        Monitoring = "monitoring" / "跟踪回访",
        Closed = "closed" / "已结案",
        Reopened = "reopened" / "重新启动",
    }
);

text_enum!(
    /// Who brought the case.
    Source {
        SelfReport = "self" / "本人求助",
        Relative = "relative" / "亲友反映",
        VillageCommittee = "village_committee" / "村（居）委会",
        School = "school" / "学校",
        Hospital = "hospital" / "医疗机构",
        Police = "police" / "公安机关",
        Hotline = "hotline" / "12338热线",
        Other = "other" / "其他",
    }
);

impl Source {
    /// Schools, hospitals and village committees must report (反家庭暴力法 第十四条).
    pub fn is_mandatory_reporter(self) -> bool {
        matches!(
            self,
            Source::School | Source::Hospital | Source::VillageCommittee
        )
    }
}

text_enum!(
    /// The graded danger.
    RiskLevel {
        Low = "low" / "低风险",
        Medium = "medium" / "中风险",
        High = "high" / "高风险",
        Critical = "critical" / "极高风险",
    }
);

text_enum!(
    /// Why details may be shared with the agencies.
    ConsentBasis {
        /// The victim agreed, separately and on record.
        Consent = "consent" / "本人单独同意",
        /// Life or health in immediate danger, consent impossible (PIPL 第十三条).
        Emergency = "emergency" / "紧急情况",
        /// A statutory duty (mandatory reporting, 反家庭暴力法).
        StatutoryDuty = "statutory_duty" / "法定职责",
    }
);

text_enum!(
    /// Where an agency task is.
    TaskState {
        Open = "open" / "待签收",
        Acknowledged = "acknowledged" / "已签收",
        InProgress = "in_progress" / "办理中",
        Done = "done" / "已办结",
        Declined = "declined" / "已退回",
    }
);

text_enum!(
    /// How a case ended.
    Outcome {
        Safe = "safe" / "风险解除",
        ProtectionOrder = "protection_order" / "已获保护令",
        Relocated = "relocated" / "已安置",
        Withdrawn = "withdrawn" / "本人撤回",
        Transferred = "transferred" / "移交他处",
        Other = "other" / "其他",
    }
);

impl TaskState {
    /// Still on someone's desk.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            TaskState::Open | TaskState::Acknowledged | TaskState::InProgress
        )
    }
}

/// What an agency is asked to do, by default, and how the task reads.
pub fn agency_task_label(agency: Agency) -> &'static str {
    match agency {
        Agency::Police => "公安：出具告诫书",
        Agency::Court => "法院：人身安全保护令",
        Agency::Procuratorate => "检察院：法律监督",
        Agency::CivilAffairs => "民政：临时庇护",
        Agency::Justice => "司法：法律援助或调解",
        Agency::Health => "卫健：救治与病历",
        Agency::Education => "教育：子女在校关照",
        Agency::Federation => "妇联：心理疏导",
    }
}

/// The agency's name for people.
pub fn agency_label(agency: Agency) -> &'static str {
    match agency {
        Agency::Police => "公安",
        Agency::Court => "法院",
        Agency::Procuratorate => "检察院",
        Agency::CivilAffairs => "民政",
        Agency::Justice => "司法",
        Agency::Health => "卫健",
        Agency::Education => "教育",
        Agency::Federation => "妇联",
    }
}

/// What happens to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Risk graded (again: a reassessment keeps the state).
    Assess,
    /// Agency tasks opened.
    OpenTasks,
    /// Every task settled: follow-up visits from here.
    Monitor,
    Close,
    Reopen,
    /// A follow-up visit recorded (no state change).
    FollowUp,
}

/// What a transition needs to know besides the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Facts {
    /// Agency tasks not yet done or declined.
    pub open_tasks: usize,
}

/// A step the state does not allow, in words for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Illegal(pub &'static str);

/// The one transition function: where `event` takes a case in `state`.
pub fn next(state: State, event: Event, facts: Facts) -> Result<State, Illegal> {
    use State::*;
    match (state, event) {
        (Intake | Reopened | Assessed, Event::Assess) => Ok(Assessed),
        (Active | Monitoring, Event::Assess) => Ok(state),
        (Assessed | Active | Monitoring, Event::OpenTasks) => Ok(Active),
        (Intake | Reopened, Event::OpenTasks) => Err(Illegal("请先完成风险评估，再派发联动任务")),
        (Active, Event::Monitor) if facts.open_tasks == 0 => Ok(Monitoring),
        (Active, Event::Monitor) => Err(Illegal("还有未办结的联动任务")),
        (Active | Monitoring, Event::FollowUp) => Ok(state),
        (Assessed | Monitoring, Event::Close) => Ok(Closed),
        (Active, Event::Close) if facts.open_tasks == 0 => Ok(Closed),
        (Active, Event::Close) => Err(Illegal("还有未办结的联动任务，不能结案")),
        (Closed, Event::Reopen) => Ok(Reopened),
        (Closed, _) => Err(Illegal("案件已结案，请先重新启动")),
        _ => Err(Illegal("案件当前状态下不能进行这一步")),
    }
}

/// What happens to an agency task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEvent {
    Acknowledge,
    Start,
    Complete,
    Decline,
}

/// The one transition function of agency tasks. Completing implies acknowledging and starting
/// (a liaison who did the work need not click three times).
pub fn next_task(state: TaskState, event: TaskEvent) -> Result<TaskState, Illegal> {
    use TaskState::*;
    match (state, event) {
        (Open, TaskEvent::Acknowledge) => Ok(Acknowledged),
        (Open | Acknowledged, TaskEvent::Start) => Ok(InProgress),
        (Open | Acknowledged | InProgress, TaskEvent::Complete) => Ok(Done),
        (Open | Acknowledged | InProgress, TaskEvent::Decline) => Ok(Declined),
        (Acknowledged | InProgress, TaskEvent::Acknowledge) => Err(Illegal("任务已签收")),
        _ => Err(Illegal("任务已办结或已退回")),
    }
}

/// A case number: county code, year, and the county's sequence that year (`620122-2026-0042`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CaseNumber(String);

impl CaseNumber {
    pub fn new(county: OrgCode, year: i32, seq: u32) -> CaseNumber {
        CaseNumber(format!("{}-{year:04}-{seq:04}", &county.as_str()[..6]))
    }

    /// Parses what a person typed (spaces trimmed); `None` when it is not a case number.
    pub fn parse(s: &str) -> Option<CaseNumber> {
        let s = s.trim();
        let mut parts = s.split('-');
        let (Some(county), Some(year), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let digits = |p: &str, n: std::ops::RangeInclusive<usize>| {
            n.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
        };
        (digits(county, 6..=6) && digits(year, 4..=4) && digits(seq, 4..=6))
            .then(|| CaseNumber(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One question of the risk questionnaire.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub text: String,
    pub weight: u32,
    /// A yes alone makes the case critical.
    #[serde(default)]
    pub critical: bool,
}

/// The score from which each level starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub medium: u32,
    pub high: u32,
    pub critical: u32,
}

/// The risk questionnaire and its thresholds (`config/referrals.toml`; there is no national
/// standard).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Questionnaire {
    pub questions: Vec<Question>,
    pub thresholds: Thresholds,
}

/// Why a questionnaire or an answer sheet is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RiskError {
    #[error("questionnaire: {0}")]
    Questionnaire(String),
    #[error("{0:?} is not a question of the questionnaire")]
    UnknownQuestion(String),
}

/// A graded risk: the level and the score that led to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grade {
    pub level: RiskLevel,
    pub score: u32,
}

impl Questionnaire {
    /// Parses and checks the questionnaire: unique ids, thresholds rising.
    pub fn parse(text: &str) -> Result<Questionnaire, RiskError> {
        let q: Questionnaire =
            toml::from_str(text).map_err(|e| RiskError::Questionnaire(e.to_string()))?;
        if q.questions.is_empty() {
            return Err(RiskError::Questionnaire("no questions".into()));
        }
        for (i, question) in q.questions.iter().enumerate() {
            if q.questions[..i].iter().any(|o| o.id == question.id) {
                return Err(RiskError::Questionnaire(format!(
                    "question {:?} appears twice",
                    question.id
                )));
            }
        }
        let t = q.thresholds;
        if !(0 < t.medium && t.medium < t.high && t.high < t.critical) {
            return Err(RiskError::Questionnaire(
                "thresholds must rise: 0 < medium < high < critical".into(),
            ));
        }
        Ok(q)
    }

    /// Grades an answer sheet (question id → yes). Unanswered questions count as no; an
    /// answer to a question that does not exist is refused.
    pub fn grade(&self, answers: &BTreeMap<String, bool>) -> Result<Grade, RiskError> {
        if let Some(unknown) = answers
            .keys()
            .find(|id| !self.questions.iter().any(|q| &q.id == *id))
        {
            return Err(RiskError::UnknownQuestion(unknown.clone()));
        }
        let yes = |q: &&Question| answers.get(&q.id).copied().unwrap_or(false);
        let score = self.questions.iter().filter(yes).map(|q| q.weight).sum();
        let t = self.thresholds;
        let level = if self.questions.iter().filter(yes).any(|q| q.critical) || score >= t.critical
        {
            RiskLevel::Critical
        } else if score >= t.high {
            RiskLevel::High
        } else if score >= t.medium {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        };
        Ok(Grade { level, score })
    }
}

/// Who a ladder step reaches: holders of `role` at the `level` unit above the case's village
/// (for `case_officer` at county: those on duty when `on_duty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rung {
    pub role: Role,
    pub level: OrgLevel,
    pub on_duty: bool,
}

impl Rung {
    /// Parses `role@level` or `role@level:on_duty` (`case_officer@county:on_duty`).
    pub fn parse(s: &str) -> Result<Rung, String> {
        let (rest, on_duty) = match s.trim().strip_suffix(":on_duty") {
            Some(r) => (r, true),
            None => (s.trim(), false),
        };
        let (role, level) = rest
            .split_once('@')
            .ok_or_else(|| format!("{s:?}: a step is role@level, e.g. supervisor@county"))?;
        let role: Role = role.parse()?;
        let level = OrgLevel::ALL
            .iter()
            .copied()
            .find(|l| l.as_str() == level)
            .ok_or_else(|| format!("{level:?} is not an org level"))?;
        if on_duty && role != Role::CaseOfficer {
            return Err(format!("{s:?}: only case officers keep a duty roster"));
        }
        Ok(Rung {
            role,
            level,
            on_duty,
        })
    }

    /// The unit this step looks in for a case in `village`.
    pub fn unit(&self, village: OrgCode) -> OrgCode {
        village.at_level(self.level)
    }
}

/// Which rung a task's clock reaches at its `fired`-th escalation (0: on creation), and
/// whether it is a repeat of the top one. `None` only for an empty ladder.
pub fn rung_at(ladder_len: usize, fired: usize) -> Option<(usize, bool)> {
    if ladder_len == 0 {
        return None;
    }
    Some((fired.min(ladder_len - 1), fired >= ladder_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SHIPPED: &str = include_str!("../../../config/referrals.toml");

    fn answers(yes: &[&str]) -> BTreeMap<String, bool> {
        yes.iter().map(|id| ((*id).to_owned(), true)).collect()
    }

    #[test]
    fn the_shipped_questionnaire_grades_as_documented() {
        let q = Questionnaire::parse(SHIPPED).unwrap();
        let grade = |yes: &[&str]| q.grade(&answers(yes)).unwrap().level;
        assert_eq!(grade(&[]), RiskLevel::Low);
        assert_eq!(grade(&["substance"]), RiskLevel::Low);
        assert_eq!(grade(&["separation", "substance"]), RiskLevel::Medium);
        assert_eq!(
            grade(&["escalating", "injury", "controlling"]),
            RiskLevel::High
        );
        // A single critical answer is enough, whatever the score.
        assert_eq!(grade(&["strangulation"]), RiskLevel::Critical);
        assert_eq!(grade(&["threats_to_kill"]), RiskLevel::Critical);
        assert_eq!(grade(&["weapon"]), RiskLevel::Critical);
        // Many lesser answers add up.
        assert_eq!(
            grade(&[
                "escalating",
                "injury",
                "fear",
                "children_harmed",
                "pregnant"
            ]),
            RiskLevel::Critical
        );
        assert!(matches!(
            q.grade(&answers(&["astrology"])),
            Err(RiskError::UnknownQuestion(id)) if id == "astrology"
        ));
    }

    #[test]
    fn questionnaires_are_checked() {
        let dup = "[[questions]]\nid='a'\ntext='x'\nweight=1\n[[questions]]\nid='a'\ntext='y'\nweight=1\n[thresholds]\nmedium=1\nhigh=2\ncritical=3\n";
        assert!(
            Questionnaire::parse(dup)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let flat = "[[questions]]\nid='a'\ntext='x'\nweight=1\n[thresholds]\nmedium=2\nhigh=2\ncritical=3\n";
        assert!(
            Questionnaire::parse(flat)
                .unwrap_err()
                .to_string()
                .contains("rise")
        );
    }

    #[test]
    fn case_numbers_read_and_write() {
        let county = OrgCode::parse("620122").unwrap();
        let n = CaseNumber::new(county, 2026, 42);
        assert_eq!(n.as_str(), "620122-2026-0042");
        assert_eq!(CaseNumber::parse(" 620122-2026-0042 "), Some(n));
        assert_eq!(
            CaseNumber::new(county, 2026, 12345).as_str(),
            "620122-2026-12345"
        );
        for bad in ["", "620122-2026", "62012-2026-0001", "620122-26-0001", "x"] {
            assert_eq!(CaseNumber::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn rungs_parse() {
        let r = Rung::parse("case_officer@county:on_duty").unwrap();
        assert_eq!(
            (r.role, r.level, r.on_duty),
            (Role::CaseOfficer, OrgLevel::County, true)
        );
        let village = OrgCode::parse("620122100201").unwrap();
        assert_eq!(
            Rung::parse("reviewer@township").unwrap().unit(village),
            OrgCode::parse("620122100").unwrap()
        );
        assert!(Rung::parse("supervisor@county:on_duty").is_err());
        assert!(Rung::parse("boss@county").is_err());
        assert!(Rung::parse("supervisor@galaxy").is_err());
    }

    #[test]
    fn the_ladder_climbs_then_repeats_its_top() {
        assert_eq!(rung_at(3, 0), Some((0, false)));
        assert_eq!(rung_at(3, 2), Some((2, false)));
        assert_eq!(rung_at(3, 3), Some((2, true)));
        assert_eq!(rung_at(3, 9), Some((2, true)));
        assert_eq!(rung_at(0, 0), None);
    }

    fn state() -> impl Strategy<Value = State> {
        proptest::sample::select(State::ALL.to_vec())
    }

    fn event() -> impl Strategy<Value = Event> {
        proptest::sample::select(vec![
            Event::Assess,
            Event::OpenTasks,
            Event::Monitor,
            Event::Close,
            Event::Reopen,
            Event::FollowUp,
        ])
    }

    proptest! {
        /// Whatever happens: only a closed case reopens, a closed case takes nothing else,
        /// nothing reaches `closed` or `monitoring` with a task open, and no case goes back to
        /// `intake`.
        #[test]
        fn transitions_keep_the_invariants(
            start in state(),
            steps in proptest::collection::vec((event(), 0usize..3), 0..30),
        ) {
            let mut s = start;
            for (e, open) in steps {
                let facts = Facts { open_tasks: open };
                match next(s, e, facts) {
                    Ok(n) => {
                        prop_assert!(n != State::Intake);
                        if n == State::Closed || n == State::Monitoring {
                            prop_assert!(open == 0 || s == n || s == State::Assessed || s == State::Monitoring);
                        }
                        if s == State::Closed {
                            prop_assert_eq!((e, n), (Event::Reopen, State::Reopened));
                        }
                        if e == Event::Reopen {
                            prop_assert_eq!(s, State::Closed);
                        }
                        if e == Event::FollowUp || (e == Event::Assess && matches!(s, State::Active | State::Monitoring)) {
                            prop_assert_eq!(n, s);
                        }
                        s = n;
                    }
                    Err(Illegal(why)) => prop_assert!(!why.is_empty()),
                }
            }
        }

        /// A settled task never opens again; only an open one is acknowledged.
        #[test]
        fn settled_tasks_stay_settled(
            events in proptest::collection::vec(
                proptest::sample::select(vec![TaskEvent::Acknowledge, TaskEvent::Start, TaskEvent::Complete, TaskEvent::Decline]),
                0..12,
            ),
        ) {
            let mut s = TaskState::Open;
            for e in events {
                match next_task(s, e) {
                    Ok(n) => {
                        prop_assert!(s.is_open());
                        if e == TaskEvent::Acknowledge { prop_assert_eq!(s, TaskState::Open); }
                        s = n;
                    }
                    Err(_) => prop_assert!(!s.is_open() || e == TaskEvent::Acknowledge || e == TaskEvent::Start),
                }
            }
        }
    }
}
