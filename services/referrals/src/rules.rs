//! The program's policy, parsed once: the risk questionnaire (`config/referrals.toml`) and the
//! deadlines, ladders and legal clocks per risk level (`config/escalation.toml`). Either file
//! may be replaced by configuration; a bad one stops start-up naming the file and the key.

use std::collections::BTreeMap;
use std::time::Duration;

use jinguo_core::messaging::parse_duration;
use jinguo_core::referrals::{Questionnaire, RiskLevel, Rung};
use serde::Deserialize;

/// The shipped questionnaire.
pub const QUESTIONNAIRE: &str = include_str!("../../../config/referrals.toml");
/// The shipped escalation policy.
pub const ESCALATION: &str = include_str!("../../../config/escalation.toml");

/// How a level's clock counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockKind {
    /// Office hours on working days (the calendar).
    Working,
    /// Night and day.
    Wall,
}

/// Deadlines and ladders of one risk level.
#[derive(Debug, Clone)]
pub struct LevelPolicy {
    pub clock: ClockKind,
    pub acknowledge: Duration,
    pub act: Duration,
    pub step: Duration,
    pub repeat: Duration,
    pub urgent: bool,
    pub ladder: Vec<Rung>,
    pub agency_ladder: Vec<Rung>,
}

/// The legal clocks.
#[derive(Debug, Clone)]
pub struct ClockPolicy {
    pub warn_before: Duration,
    pub protection_order_decision: Duration,
    pub protection_order_decision_urgent: Duration,
    pub protection_order_extension_notice: Duration,
    pub shelter_stay: Duration,
    pub warning_letter_visits: Vec<Duration>,
}

/// The whole policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub questionnaire: Questionnaire,
    levels: BTreeMap<RiskLevel, LevelPolicy>,
    pub clocks: ClockPolicy,
}

/// A policy file that does not hold: which file, what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct PolicyError {
    pub file: String,
    pub problem: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalationFile {
    levels: BTreeMap<String, LevelFile>,
    clocks: ClocksFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelFile {
    clock: String,
    acknowledge: String,
    act: String,
    step: String,
    repeat: String,
    urgent: bool,
    ladder: Vec<String>,
    agency_ladder: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClocksFile {
    warn_before: String,
    protection_order_decision: String,
    protection_order_decision_urgent: String,
    protection_order_extension_notice: String,
    shelter_stay: String,
    warning_letter_visits: Vec<String>,
}

/// The longest any deadline may be: a typo ("30000d") is refused, not obeyed.
const LONGEST: Duration = Duration::from_secs(400 * 86_400);

impl Policy {
    /// Parses both files (`names` say where they came from, for the error).
    pub fn parse(
        questionnaire: &str,
        escalation: &str,
        names: (&str, &str),
    ) -> Result<Policy, PolicyError> {
        let questionnaire = Questionnaire::parse(questionnaire).map_err(|e| PolicyError {
            file: names.0.to_owned(),
            problem: e.to_string(),
        })?;
        let fail = |problem: String| PolicyError {
            file: names.1.to_owned(),
            problem,
        };
        let file: EscalationFile = toml::from_str(escalation).map_err(|e| fail(e.to_string()))?;
        let duration = |key: &str, s: &str| -> Result<Duration, PolicyError> {
            let d = parse_duration(s).map_err(|e| fail(format!("{key}: {e}")))?;
            if d.is_zero() || d > LONGEST {
                return Err(fail(format!("{key}: must be more than 0 and at most 400d")));
            }
            Ok(d)
        };
        let mut levels = BTreeMap::new();
        for (name, l) in &file.levels {
            let level: RiskLevel = name
                .parse()
                .map_err(|e: String| fail(format!("levels.{name}: {e}")))?;
            let key = |k: &str| format!("levels.{name}.{k}");
            let rungs = |k: &str, list: &[String]| -> Result<Vec<Rung>, PolicyError> {
                if list.is_empty() {
                    return Err(fail(format!("{}: needs at least one step", key(k))));
                }
                list.iter()
                    .map(|s| Rung::parse(s).map_err(|e| fail(format!("{}: {e}", key(k)))))
                    .collect()
            };
            levels.insert(
                level,
                LevelPolicy {
                    clock: match l.clock.as_str() {
                        "working" => ClockKind::Working,
                        "wall" => ClockKind::Wall,
                        other => {
                            return Err(fail(format!(
                                "{}: {other:?} is not working or wall",
                                key("clock")
                            )));
                        }
                    },
                    acknowledge: duration(&key("acknowledge"), &l.acknowledge)?,
                    act: duration(&key("act"), &l.act)?,
                    step: duration(&key("step"), &l.step)?,
                    repeat: duration(&key("repeat"), &l.repeat)?,
                    urgent: l.urgent,
                    ladder: rungs("ladder", &l.ladder)?,
                    agency_ladder: rungs("agency_ladder", &l.agency_ladder)?,
                },
            );
        }
        if let Some(missing) = RiskLevel::ALL.iter().find(|l| !levels.contains_key(l)) {
            return Err(fail(format!("levels.{missing} is missing")));
        }
        let c = &file.clocks;
        let clocks = ClockPolicy {
            warn_before: duration("clocks.warn_before", &c.warn_before)?,
            protection_order_decision: duration(
                "clocks.protection_order_decision",
                &c.protection_order_decision,
            )?,
            protection_order_decision_urgent: duration(
                "clocks.protection_order_decision_urgent",
                &c.protection_order_decision_urgent,
            )?,
            protection_order_extension_notice: duration(
                "clocks.protection_order_extension_notice",
                &c.protection_order_extension_notice,
            )?,
            shelter_stay: duration("clocks.shelter_stay", &c.shelter_stay)?,
            warning_letter_visits: c
                .warning_letter_visits
                .iter()
                .map(|v| duration("clocks.warning_letter_visits", v))
                .collect::<Result<_, _>>()?,
        };
        Ok(Policy {
            questionnaire,
            levels,
            clocks,
        })
    }

    /// The shipped policy.
    pub fn shipped() -> Policy {
        Policy::parse(
            QUESTIONNAIRE,
            ESCALATION,
            ("config/referrals.toml", "config/escalation.toml"),
        )
        .expect("the shipped policy parses (tested)")
    }

    /// From configuration: the shipped files unless `referrals.*_file` names others.
    pub fn from_config(config: &jinguo_config::Config) -> Result<Policy, PolicyError> {
        let read = |path: &Option<std::path::PathBuf>, shipped: &str, name: &str| match path {
            None => Ok((shipped.to_owned(), name.to_owned())),
            Some(p) => std::fs::read_to_string(p)
                .map(|t| (t, p.display().to_string()))
                .map_err(|e| PolicyError {
                    file: p.display().to_string(),
                    problem: e.to_string(),
                }),
        };
        let (q, qn) = read(
            &config.referrals.questionnaire_file,
            QUESTIONNAIRE,
            "config/referrals.toml",
        )?;
        let (e, en) = read(
            &config.referrals.escalation_file,
            ESCALATION,
            "config/escalation.toml",
        )?;
        Policy::parse(&q, &e, (&qn, &en))
    }

    /// The deadlines and ladders of `level` (every level is present: checked when parsed).
    pub fn level(&self, level: RiskLevel) -> &LevelPolicy {
        &self.levels[&level]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_parses_and_critical_runs_on_the_wall_clock() {
        let p = Policy::shipped();
        let critical = p.level(RiskLevel::Critical);
        assert_eq!(critical.clock, ClockKind::Wall);
        assert!(critical.urgent);
        assert_eq!(critical.ladder.len(), 4);
        assert_eq!(p.level(RiskLevel::Low).clock, ClockKind::Working);
        assert_eq!(
            p.clocks.protection_order_decision_urgent,
            Duration::from_secs(24 * 3600)
        );
        assert_eq!(p.clocks.warning_letter_visits.len(), 3);
    }

    #[test]
    fn bad_files_are_named() {
        let broken = ESCALATION.replace("clock = \"wall\"", "clock = \"sundial\"");
        let e = Policy::parse(QUESTIONNAIRE, &broken, ("q", "esc.toml")).unwrap_err();
        assert!(
            e.to_string().contains("esc.toml") && e.to_string().contains("sundial"),
            "{e}"
        );
        let long = ESCALATION.replace("acknowledge = \"1h\"", "acknowledge = \"30000d\"");
        assert!(Policy::parse(QUESTIONNAIRE, &long, ("q", "e")).is_err());
        let rung = ESCALATION.replace("supervisor@city\"]\nagency", "mayor@city\"]\nagency");
        assert!(Policy::parse(QUESTIONNAIRE, &rung, ("q", "e")).is_err());
    }
}
