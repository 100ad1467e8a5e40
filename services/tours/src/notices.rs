//! What a tour tells people: each lecturer her talks with a calendar file and a decline link
//! per talk, each village host the visit, changes to exactly those a repair touched, the
//! reminder the working day before, and the host's attendance link after the talk. Mails carry
//! names, dates and places, never codes or ids.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use jinguo_core::auth::Role;
use jinguo_core::notify::Urgency;
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_mail::{Attachment, TourLine, TourLink, TourNotice};
use jinguo_store::tours::SessionRow;
use jinguo_store::{Conn, orgs, people, timers};
use jinguo_tours::ics::{self, Event, Method};
use uuid::Uuid;

use crate::jobs::{AttendanceDue, SessionReminder};
use crate::refusal::Refusal;
use crate::rules::Settings;

/// The purpose of a lecturer's link to decline one talk.
pub const DECLINE: &str = "tour.decline";
/// The purpose of a host's link to record a talk's attendance.
pub const ATTENDANCE: &str = "tour.attendance";

/// "12月8日（周二）".
pub fn day_label(d: NaiveDate) -> String {
    const WEEKDAYS: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
    format!(
        "{}月{}日（{}）",
        d.month(),
        d.day(),
        WEEKDAYS[d.weekday().num_days_from_monday() as usize]
    )
}

pub fn time_label(start: NaiveTime, end: NaiveTime) -> String {
    format!("{}–{}", start.format("%H:%M"), end.format("%H:%M"))
}

/// Names and places a tour's mails and pages print.
pub struct Places {
    pub tour_id: Uuid,
    pub tour_name: String,
    pub topic: String,
    /// Village code → "某某镇某某村".
    pub village: HashMap<OrgCode, String>,
    pub venue: HashMap<OrgCode, String>,
    pub lecturer: HashMap<Uuid, String>,
}

impl Places {
    /// Loads the names of `sessions`' villages (with their townships) and lecturers.
    pub async fn load(
        conn: &mut Conn<'_>,
        tour_id: Uuid,
        tour_name: &str,
        topic: &str,
        venues: HashMap<OrgCode, String>,
        sessions: &[SessionRow],
    ) -> Result<Places, Refusal> {
        let mut codes: Vec<OrgCode> = venues.keys().copied().collect();
        codes.extend(codes.clone().iter().map(|c| c.at_level(OrgLevel::Township)));
        codes.sort();
        codes.dedup();
        let names = orgs::names(conn, &codes).await?;
        let village = venues
            .keys()
            .map(|c| {
                let town = names
                    .get(&c.at_level(OrgLevel::Township))
                    .cloned()
                    .unwrap_or_default();
                let name = names.get(c).cloned().unwrap_or_default();
                (*c, format!("{town}{name}"))
            })
            .collect();
        let ids: Vec<Uuid> = sessions.iter().filter_map(|s| s.volunteer).collect();
        let lecturer = people::names(conn, &ids)
            .await?
            .into_iter()
            .map(|(id, (name, _))| (id, name))
            .collect();
        Ok(Places {
            tour_id,
            tour_name: tour_name.to_owned(),
            topic: topic.to_owned(),
            village,
            venue: venues,
            lecturer,
        })
    }

    pub fn village(&self, code: OrgCode) -> &str {
        self.village.get(&code).map_or("", String::as_str)
    }

    pub fn venue(&self, code: OrgCode) -> &str {
        self.venue.get(&code).map_or("", String::as_str)
    }

    pub fn lecturer(&self, v: Option<Uuid>) -> &str {
        v.and_then(|v| self.lecturer.get(&v))
            .map_or("（待定）", String::as_str)
    }

    /// "12月8日（周二）09:00–10:30 某镇某村妇女之家".
    pub fn line(&self, s: &SessionRow) -> String {
        format!(
            "{} {} {}{}",
            day_label(s.day),
            time_label(s.starts, s.ends),
            self.village(s.village),
            self.venue(s.village)
        )
    }

    /// The session as a calendar event: the UID stays with the talk through repairs.
    pub fn event(&self, s: &SessionRow) -> Event {
        Event {
            uid: uid(self.tour_id, s),
            sequence: s.sequence,
            date: s.day,
            start: s.starts,
            end: s.ends,
            summary: format!("{}：{}", self.tour_name, self.topic),
            location: format!("{}{}", self.village(s.village), self.venue(s.village)),
            description: format!("主讲：{}", self.lecturer(s.volunteer)),
        }
    }
}

pub fn uid(tour: Uuid, s: &SessionRow) -> String {
    format!("{tour}-{}-{}@jinguo", s.village, s.n)
}

/// The calendar file of `sessions`.
pub fn calendar(
    places: &Places,
    method: Method,
    sessions: &[&SessionRow],
    now: DateTime<Utc>,
) -> String {
    let events: Vec<Event> = sessions.iter().map(|s| places.event(s)).collect();
    ics::calendar(method, &events, now.naive_utc())
}

fn attachment(body: String, method: Method) -> Attachment {
    let method = match method {
        Method::Publish => "PUBLISH",
        Method::Cancel => "CANCEL",
    };
    Attachment {
        filename: if method == "CANCEL" {
            "宣讲取消.ics"
        } else {
            "宣讲安排.ics"
        }
        .to_owned(),
        content_type: format!("text/calendar; charset=UTF-8; method={method}"),
        body,
    }
}

/// Mails a lecturer `sessions` (new or changed) with their calendar file and a decline link
/// for each; `lead` says why she gets it.
pub async fn tell_lecturer(
    conn: &mut Conn<'_>,
    settings: &Settings,
    places: &Places,
    lecturer: Uuid,
    lead: String,
    sessions: &[&SessionRow],
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let name = people::display_name(conn, lecturer).await?;
    let mut lines = Vec::new();
    for s in sessions {
        let secret = jinguo_auth::links::issue(
            conn,
            DECLINE,
            &s.id.to_string(),
            lecturer,
            settings.link_valid_for,
            now,
        )
        .await?;
        lines.push(TourLine {
            text: places.line(s),
            link: Some(TourLink {
                label: "无法前往，点此说明".into(),
                url: settings.link(&secret),
            }),
        });
    }
    let mail = TourNotice {
        recipient: name,
        subject: format!("宣讲安排：{}", places.tour_name),
        lead,
        lines,
        actions: Vec::new(),
        calendar: true,
    };
    let body = calendar(places, Method::Publish, sessions, now);
    jinguo_mail::notify_attached(
        conn,
        lecturer,
        &mail,
        attachment(body, Method::Publish),
        Urgency::Normal,
        now,
    )
    .await?;
    Ok(())
}

/// Tells a lecturer talks of hers are off, with a cancelling calendar file.
pub async fn tell_lecturer_cancelled(
    conn: &mut Conn<'_>,
    places: &Places,
    lecturer: Uuid,
    sessions: &[&SessionRow],
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let name = people::display_name(conn, lecturer).await?;
    let mail = TourNotice {
        recipient: name,
        subject: format!("宣讲取消：{}", places.tour_name),
        lead: "以下宣讲已不再由您主讲，日历中的安排将随附件取消：".into(),
        lines: sessions
            .iter()
            .map(|s| TourLine {
                text: places.line(s),
                link: None,
            })
            .collect(),
        actions: Vec::new(),
        calendar: true,
    };
    let body = calendar(places, Method::Cancel, sessions, now);
    jinguo_mail::notify_attached(
        conn,
        lecturer,
        &mail,
        attachment(body, Method::Cancel),
        Urgency::Normal,
        now,
    )
    .await?;
    Ok(())
}

/// The hosts of a village: its federation chair, who reviews its nominations.
pub async fn hosts(conn: &mut Conn<'_>, village: OrgCode) -> Result<Vec<Uuid>, Refusal> {
    Ok(jinguo_store::staff::holders_at(conn, Role::Reviewer, village).await?)
}

/// Tells a village's hosts about talks there: `lead` says what happened.
pub async fn tell_hosts(
    conn: &mut Conn<'_>,
    places: &Places,
    village: OrgCode,
    lead: String,
    sessions: &[&SessionRow],
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    for host in hosts(conn, village).await? {
        let mail = TourNotice {
            recipient: people::display_name(conn, host).await?,
            subject: format!("宣讲到村：{}", places.tour_name),
            lead: lead.clone(),
            lines: sessions
                .iter()
                .map(|s| TourLine {
                    text: format!("{}，主讲：{}", places.line(s), places.lecturer(s.volunteer)),
                    link: None,
                })
                .collect(),
            actions: Vec::new(),
            calendar: false,
        };
        jinguo_mail::notify(conn, host, &mail, Urgency::Normal, now).await?;
    }
    Ok(())
}

fn timer_key(kind: &str, s: &SessionRow) -> String {
    format!("{kind}:{}:{}", s.id, s.sequence)
}

fn local(settings: &Settings, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    settings
        .time_zone
        .from_local_datetime(&day.and_time(time))
        .earliest()
        .map_or_else(|| day.and_time(time).and_utc(), |t| t.with_timezone(&Utc))
}

/// When the reminder of `s` goes out: office opening on the working day before.
pub fn reminder_at(settings: &Settings, s: &SessionRow) -> DateTime<Utc> {
    let county = s.village.at_level(OrgLevel::County);
    let day = settings.calendar.previous_working_day(s.day, Some(&county));
    local(settings, day, settings.office_opens)
}

/// When the host is asked for attendance: the talk's end.
pub fn attendance_at(settings: &Settings, s: &SessionRow) -> DateTime<Utc> {
    local(settings, s.day, s.ends)
}

/// Sets the reminder and the attendance request of this version of `s` (keys carry its
/// sequence, so a moved talk's old timers find themselves stale).
pub async fn schedule_timers(
    conn: &mut Conn<'_>,
    settings: &Settings,
    s: &SessionRow,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    use jinguo_bus::Job;
    let remind = reminder_at(settings, s);
    if remind > now {
        let job = SessionReminder {
            session: s.id,
            sequence: s.sequence,
        }
        .envelope(remind);
        timers::schedule(conn, &timer_key("tour.remind", s), remind, None, &job, now).await?;
    }
    let ask = attendance_at(settings, s).max(now);
    let job = AttendanceDue {
        session: s.id,
        sequence: s.sequence,
    }
    .envelope(ask);
    timers::schedule(conn, &timer_key("tour.attendance", s), ask, None, &job, now).await?;
    Ok(())
}

/// Cancels the timers of this version of `s`.
pub async fn cancel_timers(conn: &mut Conn<'_>, s: &SessionRow) -> Result<(), Refusal> {
    timers::cancel(conn, &timer_key("tour.remind", s)).await?;
    timers::cancel(conn, &timer_key("tour.attendance", s)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_read_in_chinese() {
        assert_eq!(day_label("2026-12-08".parse().unwrap()), "12月8日（周二）");
        assert_eq!(day_label("2027-01-03".parse().unwrap()), "1月3日（周日）");
        let t = |s| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        assert_eq!(time_label(t("09:00"), t("10:30")), "09:00–10:30");
    }
}
