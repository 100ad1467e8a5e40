//! After a talk: the reminder the working day before (lecturer and hosts), the host's
//! attendance link when the talk ends, and the record it makes (women attending, topic
//! covered, a note). A timer of a talk's older version finds itself stale and does nothing.

use chrono::{DateTime, Utc};
use jinguo_core::notify::Urgency;
use jinguo_mail::{TourLink, TourNotice};
use jinguo_store::tours::{self as store, Attendance, SessionRow, SessionState};
use jinguo_store::{Conn, people};
use uuid::Uuid;

use crate::changes::today;
use crate::notices::{self, ATTENDANCE, Places};
use crate::publish::venues;
use crate::refusal::{Refusal, conflict, invalid};
use crate::rules::{self, MAX_ATTENDANCE, Settings};
use crate::tour::spec_of;

/// The session of a timer, if it is still at `sequence` and scheduled, with its places.
async fn current(
    conn: &mut Conn<'_>,
    session: Uuid,
    sequence: u32,
) -> Result<Option<(SessionRow, Places)>, Refusal> {
    let Some(s) = store::session(conn, session).await? else {
        return Ok(None);
    };
    if s.sequence != sequence || s.state != SessionState::Scheduled {
        return Ok(None);
    }
    let Some(tour) = store::tour(conn, s.tour_id).await? else {
        return Ok(None);
    };
    let spec = spec_of(&tour)?;
    let venues = venues(conn, tour.id).await?;
    let places = Places::load(
        conn,
        tour.id,
        &tour.name,
        &spec.topic,
        venues,
        std::slice::from_ref(&s),
    )
    .await?;
    Ok(Some((s, places)))
}

/// The working day before a talk: its lecturer and its village's hosts are reminded.
pub(crate) async fn remind(
    conn: &mut Conn<'_>,
    session: Uuid,
    sequence: u32,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let Some((s, places)) = current(conn, session, sequence).await? else {
        return Ok(());
    };
    if let Some(lecturer) = s.volunteer {
        let mail = TourNotice {
            recipient: people::display_name(conn, lecturer).await?,
            subject: format!("宣讲提醒：{}", notices::day_label(s.day)),
            lead: format!(
                "提醒：您在“{}”巡回宣讲中有一场宣讲即将举行：",
                places.tour_name
            ),
            lines: vec![jinguo_mail::TourLine {
                text: places.line(&s),
                link: None,
            }],
            actions: Vec::new(),
            calendar: false,
        };
        jinguo_mail::notify(conn, lecturer, &mail, Urgency::Normal, now).await?;
    }
    let lead = "提醒：以下宣讲即将在贵村举行，请提前通知妇女群众并准备场地：".to_owned();
    notices::tell_hosts(conn, &places, s.village, lead, &[&s], now).await
}

/// A talk ended: each host gets a link to record how it went.
pub(crate) async fn ask_attendance(
    conn: &mut Conn<'_>,
    settings: &Settings,
    session: Uuid,
    sequence: u32,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let Some((s, places)) = current(conn, session, sequence).await? else {
        return Ok(());
    };
    for host in notices::hosts(conn, s.village).await? {
        let secret = jinguo_auth::links::issue(
            conn,
            ATTENDANCE,
            &s.id.to_string(),
            host,
            settings.link_valid_for,
            now,
        )
        .await?;
        let mail = TourNotice {
            recipient: people::display_name(conn, host).await?,
            subject: format!("请记录宣讲情况：{}", places.village(s.village)),
            lead: format!(
                "“{}”巡回宣讲已在贵村举行（{}，主讲：{}）。请记录到场妇女人数和宣讲内容：",
                places.tour_name,
                places.line(&s),
                places.lecturer(s.volunteer)
            ),
            lines: Vec::new(),
            actions: vec![TourLink {
                label: "记录宣讲情况".into(),
                url: settings.link(&secret),
            }],
            calendar: false,
        };
        jinguo_mail::notify(conn, host, &mail, Urgency::Normal, now).await?;
    }
    Ok(())
}

/// What a host records.
#[derive(Debug, Clone)]
pub struct Record {
    pub women: u32,
    pub topic_covered: bool,
    pub note: String,
}

/// Parses the attendance form's fields, naming the field that is wrong.
pub fn parse_record(women: &str, topic_covered: &str, note: &str) -> Result<Record, Refusal> {
    let women = women
        .trim()
        .parse::<u32>()
        .map_err(|_| invalid("women", "请填写到场妇女人数（整数）"))?;
    let women = rules::within("women", women, (0, MAX_ATTENDANCE))?;
    let topic_covered = match topic_covered {
        "yes" => true,
        "no" => false,
        _ => return Err(invalid("topic_covered", "请选择是否讲了预定主题")),
    };
    Ok(Record {
        women,
        topic_covered,
        note: rules::note("note", note)?,
    })
}

/// A host records the talk `session` (the attendance link's POST): once, on or after its day,
/// by a host of its village.
pub async fn record_attendance(
    conn: &mut Conn<'_>,
    settings: &Settings,
    host: Uuid,
    session: Uuid,
    record: &Record,
    now: DateTime<Utc>,
) -> Result<SessionRow, Refusal> {
    let s = store::session(conn, session)
        .await?
        .ok_or(Refusal::NotFound("没有这场宣讲"))?;
    store::lock_tour(conn, s.tour_id).await?;
    let mut s = store::session(conn, session)
        .await?
        .ok_or(Refusal::NotFound("没有这场宣讲"))?;
    if !notices::hosts(conn, s.village).await?.contains(&host) {
        return Err(Refusal::Forbidden("tour.attendance"));
    }
    match s.state {
        SessionState::Scheduled => {}
        SessionState::Held => return Err(conflict("这场宣讲的情况已经记录过")),
        SessionState::Cancelled => return Err(conflict("这场宣讲已取消")),
    }
    if s.day > today(settings, now) {
        return Err(conflict("这场宣讲还没有举行，举行后再记录"));
    }
    s.state = SessionState::Held;
    s.attendance = Some(Attendance {
        women: record.women,
        topic_covered: record.topic_covered,
        note: record.note.clone(),
        recorded_at: now,
    });
    store::update_session(conn, &s).await?;
    jinguo_auth::record(
        conn,
        &host.to_string(),
        "tour.attendance_recorded",
        &session.to_string(),
        serde_json::json!({ "women": record.women }),
        now,
    )
    .await?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_bounded_naming_the_field() {
        let r = parse_record(" 36 ", "yes", "反响热烈").unwrap();
        assert_eq!(
            (r.women, r.topic_covered, r.note.as_str()),
            (36, true, "反响热烈")
        );
        let field = |w: &str, t: &str| match parse_record(w, t, "") {
            Err(Refusal::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field("很多", "yes"), "women");
        assert_eq!(field("-1", "yes"), "women");
        assert_eq!(field("5001", "yes"), "women");
        assert_eq!(field("3", ""), "topic_covered");
    }
}
