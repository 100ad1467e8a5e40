//! Calendar files (RFC 5545) for lecture sessions, the way a phone's calendar takes them: one
//! VEVENT per session in Asia/Shanghai time (the zone is spelled out in the file, so no client
//! has to know it), a UID that stays with the session when it is moved, and a SEQUENCE raised on
//! every change, so that an updated file replaces the event instead of adding a second one.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// What a calendar file asks of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Here are the sessions (a first schedule, or a download).
    Publish,
    /// These sessions are cancelled.
    Cancel,
}

/// One session as a calendar event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Stable for the session's life: a repair that moves it keeps the UID.
    pub uid: String,
    /// 0 when first published, raised by each change.
    pub sequence: u32,
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub summary: String,
    pub location: String,
    pub description: String,
}

/// The calendar file: CRLF line ends, lines folded at 75 octets (never inside a character),
/// text escaped. `stamp` is when the file was made (UTC).
pub fn calendar(method: Method, events: &[Event], stamp: NaiveDateTime) -> String {
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        "VERSION:2.0".into(),
        "PRODID:-//Gansu Women's Federation//Jinguo//ZH".into(),
        "CALSCALE:GREGORIAN".into(),
        format!(
            "METHOD:{}",
            match method {
                Method::Publish => "PUBLISH",
                Method::Cancel => "CANCEL",
            }
        ),
        // China has kept UTC+8 without daylight saving since 1991.
        "BEGIN:VTIMEZONE".into(),
        "TZID:Asia/Shanghai".into(),
        "BEGIN:STANDARD".into(),
        "DTSTART:19700101T000000".into(),
        "TZOFFSETFROM:+0800".into(),
        "TZOFFSETTO:+0800".into(),
        "TZNAME:CST".into(),
        "END:STANDARD".into(),
        "END:VTIMEZONE".into(),
    ];
    let local = |date: NaiveDate, time: NaiveTime| date.and_time(time).format("%Y%m%dT%H%M%S");
    for e in events {
        lines.extend([
            "BEGIN:VEVENT".into(),
            format!("UID:{}", text(&e.uid)),
            format!("DTSTAMP:{}", stamp.format("%Y%m%dT%H%M%SZ")),
            format!("SEQUENCE:{}", e.sequence),
            format!("DTSTART;TZID=Asia/Shanghai:{}", local(e.date, e.start)),
            format!("DTEND;TZID=Asia/Shanghai:{}", local(e.date, e.end)),
            format!("SUMMARY:{}", text(&e.summary)),
            format!("LOCATION:{}", text(&e.location)),
            format!("DESCRIPTION:{}", text(&e.description)),
            format!(
                "STATUS:{}",
                match method {
                    Method::Publish => "CONFIRMED",
                    Method::Cancel => "CANCELLED",
                }
            ),
            "END:VEVENT".into(),
        ]);
    }
    lines.push("END:VCALENDAR".into());
    lines.iter().map(|l| fold(l)).collect()
}

/// A TEXT value: backslash, semicolon, comma and line breaks escaped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// One content line, folded so that no line is longer than 75 octets (a continuation starts
/// with a space), breaking only between characters; ends with CRLF.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            uid: "tour-1-620122100201-1@jinguo".into(),
            sequence: 2,
            date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            start: NaiveTime::from_hms_opt(8, 55, 0).unwrap(),
            end: NaiveTime::from_hms_opt(10, 25, 0).unwrap(),
            summary: "巡回宣讲：反家暴".into(),
            location: "甲村, 妇女之家; 二楼".into(),
            description: "宣讲人：王芳\n时长 90 分钟".repeat(4),
        }
    }

    #[test]
    fn an_event_is_in_shanghai_time_with_its_uid_and_sequence() {
        let stamp = NaiveDate::from_ymd_opt(2026, 12, 6)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap();
        let ics = calendar(Method::Publish, &[event()], stamp);
        let unfolded = ics.replace("\r\n ", "");
        let lines: Vec<&str> = unfolded.split("\r\n").collect();
        for expected in [
            "METHOD:PUBLISH",
            "TZID:Asia/Shanghai",
            "UID:tour-1-620122100201-1@jinguo",
            "SEQUENCE:2",
            "DTSTAMP:20261206T080000Z",
            "DTSTART;TZID=Asia/Shanghai:20261201T085500",
            "DTEND;TZID=Asia/Shanghai:20261201T102500",
            "LOCATION:甲村\\, 妇女之家\\; 二楼",
            "STATUS:CONFIRMED",
        ] {
            assert!(lines.contains(&expected), "{expected} missing from {ics}");
        }
        assert!(unfolded.contains("DESCRIPTION:宣讲人：王芳\\n时长 90 分钟宣讲人"));
        assert!(calendar(Method::Cancel, &[event()], stamp).contains("STATUS:CANCELLED\r\n"));
    }

    #[test]
    fn long_lines_fold_between_characters_within_75_octets() {
        let line = format!("DESCRIPTION:{}", "宣讲".repeat(40));
        let folded = fold(&line);
        assert!(folded.ends_with("\r\n"));
        for part in folded.trim_end_matches("\r\n").split("\r\n") {
            assert!(part.len() <= 75, "{} octets: {part}", part.len());
        }
        assert_eq!(folded.trim_end_matches("\r\n").replace("\r\n ", ""), line);
    }
}
