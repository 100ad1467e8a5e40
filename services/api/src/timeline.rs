//! A nomination's history as people read it, like an approval timeline: who, when, what was
//! decided and why. The nomination page and the reviewer's page show the same one.

use jinguo_core::nominations::{Level, State};
use jinguo_nominations::Detail;

use crate::review::state_label;

/// One step of the timeline.
pub(crate) struct Step {
    pub at: String,
    pub who: String,
    pub what: String,
    pub reason: Option<String>,
}

/// 本人自荐 / 他人推荐 / 组织推荐.
pub(crate) fn channel_label(channel: &str) -> &'static str {
    match channel {
        "self" => "本人自荐",
        "others" => "他人推荐",
        "organization" => "组织推荐",
        _ => "其他",
    }
}

/// What a history event means, in Chinese.
pub(crate) fn event_label(event: &str, to: &str) -> String {
    let level = |l: &str| match l {
        "village" => Some(Level::Village),
        "township" => Some(Level::Township),
        "county" => Some(Level::County),
        _ => None,
    };
    match event {
        "submitted" => return "提交推荐".into(),
        "resubmitted" => return "修改后重新提交".into(),
        "withdrawn" => return "撤回推荐".into(),
        "no_reviewer" => return "暂无审核员，已通知县级管理员安排".into(),
        "reviewer_appointed" => return "已安排审核员，继续审核".into(),
        "reassigned" => return "原审核员离岗，审核任务已转交".into(),
        "village_publicity_ended" => return "村级公示期满".into(),
        "publicity_ended" => return "公示期满，获评".into(),
        "deadline_passed" => return "审核逾期".into(),
        "escalated" => return "审核逾期，已上报上一级催办".into(),
        "deadline_returned" => return "审核逾期，按规则退回推荐人".into(),
        "decided_on_behalf" => return "上级代为审核".into(),
        "urged" => return "催办审核员".into(),
        "reassigned_by_admin" => return "管理员转交审核任务".into(),
        "objected" => return "公示期间收到异议，公示暂停，转县级审核员核查".into(),
        "objection_joined" => return "又收到一条异议，并入同一核查".into(),
        "no_investigator" => return "县级暂无审核员核查异议，已通知县级管理员安排".into(),
        "investigator_appointed" => return "已安排县级审核员核查异议".into(),
        "objection_dismissed" => return "异议核查：驳回异议，继续公示".into(),
        "objection_upheld" => return "异议核查：维持异议，撤销推荐".into(),
        _ => {}
    }
    if let Some((l, what)) = event.split_once('_')
        && let Some(l) = level(l)
    {
        let label = l.label();
        match what {
            "approve" if l == Level::County => return "县级审核：通过，进入公示".into(),
            "approve" => return format!("{label}审核：通过"),
            "return" => return format!("{label}审核：退回推荐人"),
            "reject" => return format!("{label}审核：不通过"),
            "approval" => return format!("{label}审核：同意（待其他审核员）"),
            "skipped" => return format!("{label}无审核员，跳过"),
            _ => {}
        }
    }
    to.parse::<State>()
        .map_or_else(|_| "状态变更".to_owned(), |s| state_label(s).to_owned())
}

/// A family's members as one line: 王强（丈夫）、王小明（儿子）.
pub(crate) fn members_line(members: &[jinguo_nominations::Member]) -> String {
    members
        .iter()
        .map(|m| format!("{}（{}）", m.name, m.relation))
        .collect::<Vec<_>>()
        .join("、")
}

/// The steps of `detail`'s history, times in `tz`, actors by name.
pub(crate) fn timeline(detail: &Detail, tz: chrono_tz::Tz) -> Vec<Step> {
    detail
        .history
        .iter()
        .map(|h| Step {
            at: h.at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
            who: match h.actor.as_str() {
                "public" => "本人（自荐）".to_owned(),
                "system" => "系统".to_owned(),
                "objector" => "群众（公示异议）".to_owned(),
                actor => detail
                    .actor_names
                    .iter()
                    .find(|(a, _)| a == actor)
                    .map_or_else(|| "工作人员".to_owned(), |(_, n)| n.clone()),
            },
            what: event_label(&h.event, &h.to),
            // The system's own notes carry codes for machines (the unit stalled, the person who
            // left), never words for people; a person's reason is shown as they wrote it.
            reason: h.reason.clone().filter(|_| h.actor != "system"),
        })
        .collect()
}
