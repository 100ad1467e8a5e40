//! 巾帼志愿者: volunteers who give the talks, added one by one (page, API) or by CSV import,
//! all rows or none. Each is a person (name, email, phone) with a home village, topics, a
//! daily maximum and the dates she can come.

use chrono::{DateTime, NaiveDate, Utc};
use jinguo_core::auth::Target;
use jinguo_core::identity::MobilePhone;
use jinguo_core::notify::{Channel, Person};
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_store::tours::{self as store, VolunteerRow};
use jinguo_store::{Conn, orgs, people};
use serde::Deserialize;
use uuid::Uuid;

use crate::refusal::{LineError, Refusal, invalid};
use crate::rules::{self, MAX_PER_DAY};

/// Who may add volunteers and see them: coordinators (and admins) of the county.
pub const MANAGE_VOLUNTEERS: &str = "volunteer.manage";

/// A volunteer as the coordinator gives her.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewVolunteer {
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub phone: Option<String>,
    /// The home village's code (the page picks it).
    pub home_village: String,
    pub topics: Vec<String>,
    pub max_per_day: u32,
    #[serde(default)]
    pub available_from: Option<NaiveDate>,
    #[serde(default)]
    pub available_to: Option<NaiveDate>,
    #[serde(default)]
    pub unavailable: Vec<NaiveDate>,
}

/// A volunteer whose fields all passed, before the database is asked.
struct Checked {
    name: String,
    email: String,
    phone: Option<String>,
    village: OrgCode,
    topics: Vec<String>,
    max_per_day: u32,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    unavailable: Vec<NaiveDate>,
}

fn check(v: &NewVolunteer) -> Result<Checked, Refusal> {
    let name = rules::name("name", &v.name)?;
    let email = jinguo_auth::staff::parse_email(&v.email)
        .map_err(|_| invalid("email", "不是有效的邮箱地址"))?;
    let phone = MobilePhone::parse_optional(v.phone.as_deref())
        .map_err(|e| invalid("phone", format!("手机号码有误：{e}")))?
        .map(|p| p.as_str().to_owned());
    let village = OrgCode::parse(v.home_village.trim())
        .ok()
        .filter(|c| c.level() == OrgLevel::Village)
        .ok_or_else(|| invalid("home_village", "请选择居住的村（社区）"))?;
    if v.topics.is_empty() {
        return Err(invalid("topics", "请至少选择一个宣讲主题"));
    }
    let mut topics = Vec::new();
    for t in &v.topics {
        let t = rules::topic("topics", t)?;
        if !topics.contains(&t) {
            topics.push(t);
        }
    }
    let max_per_day = rules::within("max_per_day", v.max_per_day, (1, MAX_PER_DAY))?;
    if let (Some(f), Some(t)) = (v.available_from, v.available_to)
        && t < f
    {
        return Err(invalid("available_to", "结束日期早于开始日期"));
    }
    if v.unavailable.len() > 366 {
        return Err(invalid("unavailable", "最多填写 366 个日期"));
    }
    let mut unavailable = v.unavailable.clone();
    unavailable.sort();
    unavailable.dedup();
    Ok(Checked {
        name,
        email,
        phone,
        village,
        topics,
        max_per_day,
        from: v.available_from,
        to: v.available_to,
        unavailable,
    })
}

/// Adds a volunteer for `by`, who must manage volunteers where she lives. An email already
/// known as a person (a staff member, say) becomes that person's volunteer record.
pub async fn add_volunteer(
    conn: &mut Conn<'_>,
    by: Uuid,
    v: &NewVolunteer,
    now: DateTime<Utc>,
) -> Result<VolunteerRow, Refusal> {
    let c = check(v)?;
    add_checked(conn, by, c, now).await
}

async fn add_checked(
    conn: &mut Conn<'_>,
    by: Uuid,
    c: Checked,
    now: DateTime<Utc>,
) -> Result<VolunteerRow, Refusal> {
    if !jinguo_auth::may(conn, by, MANAGE_VOLUNTEERS, Target::Org(c.village), now).await? {
        return Err(Refusal::Forbidden(MANAGE_VOLUNTEERS));
    }
    let village = orgs::get(conn, c.village).await?;
    if village.as_ref().is_none_or(|u| u.location.is_none()) {
        return Err(invalid(
            "home_village",
            "没有这个村（社区），或它没有位置信息",
        ));
    }
    let person_id = match jinguo_store::staff::find_by_email(conn, &c.email).await? {
        Some((id, _)) => {
            if store::volunteer(conn, id).await?.is_some() {
                return Err(invalid("email", "这个邮箱的志愿者已经登记过"));
            }
            id
        }
        None => {
            let person = Person {
                id: jinguo_bus::new_id(),
                display_name: c.name.clone(),
                email: c.email.clone(),
                phone: c.phone.clone(),
                preferred_channel: Channel::Email,
            };
            people::insert(conn, &person, now).await?;
            person.id
        }
    };
    let row = VolunteerRow {
        person_id,
        home_village: c.village,
        county: c.village.at_level(OrgLevel::County),
        topics: c.topics,
        max_per_day: c.max_per_day,
        available_from: c.from,
        available_to: c.to,
        unavailable: c.unavailable,
        created_by: by,
        created_at: now,
    };
    store::insert_volunteer(conn, &row).await?;
    jinguo_auth::record(
        conn,
        &by.to_string(),
        "volunteer.added",
        &person_id.to_string(),
        serde_json::json!({ "village": c.village.to_string() }),
        now,
    )
    .await?;
    Ok(row)
}

/// The CSV columns, in order, as the template's header names them.
pub const CSV_COLUMNS: &[(&str, &str)] = &[
    ("name", "姓名"),
    ("email", "邮箱"),
    ("phone", "手机"),
    ("home_village", "居住村代码"),
    ("topics", "宣讲主题"),
    ("max_per_day", "每日最多场次"),
    ("available_from", "可宣讲开始日期"),
    ("available_to", "可宣讲结束日期"),
    ("unavailable", "不可宣讲日期"),
];

/// The import template: the header and one example row. Several topics or dates are
/// separated by 、 or ;.
pub fn csv_template(example_village: OrgCode) -> String {
    let header: Vec<&str> = CSV_COLUMNS.iter().map(|(_, label)| *label).collect();
    format!(
        "{}\n李梅,limei@example.cn,13800000000,{example_village},家风家教、法律宣传,2,2026-12-01,2027-01-31,2026-12-25\n",
        header.join(",")
    )
}

fn split_list(s: &str) -> Vec<String> {
    s.split(['、', ';', '；'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn column_of(field: &str) -> &'static str {
    CSV_COLUMNS
        .iter()
        .find(|(f, _)| *f == field)
        .map_or("", |(_, label)| label)
}

/// One CSV record as a [`NewVolunteer`], or the first bad field.
fn from_record(record: &csv::StringRecord) -> Result<NewVolunteer, (&'static str, String)> {
    let at = |i: usize| record.get(i).unwrap_or("").trim();
    let date = |field: &'static str, s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| (field, format!("“{s}”不是日期（例如 2026-12-01）")))
    };
    let optional_date = |field: &'static str, s: &str| {
        if s.is_empty() {
            Ok(None)
        } else {
            date(field, s).map(Some)
        }
    };
    let max_per_day = at(5)
        .parse::<u32>()
        .map_err(|_| ("max_per_day", format!("“{}”不是整数", at(5))))?;
    Ok(NewVolunteer {
        name: at(0).to_owned(),
        email: at(1).to_owned(),
        phone: Some(at(2).to_owned()).filter(|p| !p.is_empty()),
        home_village: at(3).to_owned(),
        topics: split_list(at(4)),
        max_per_day,
        available_from: optional_date("available_from", at(6))?,
        available_to: optional_date("available_to", at(7))?,
        unavailable: split_list(at(8))
            .iter()
            .map(|d| date("unavailable", d))
            .collect::<Result<_, _>>()?,
    })
}

/// Imports volunteers from CSV in the caller's transaction: every row or none. A bad row is
/// reported by line and column; a refused permission or a repeated email too. Returns how
/// many were added.
pub async fn import_volunteers(
    conn: &mut Conn<'_>,
    by: Uuid,
    text: &str,
    now: DateTime<Utc>,
) -> Result<usize, Refusal> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut emails = std::collections::HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                // The csv crate's words are English: the line says what to fix instead.
                tracing::debug!(line, error = %e, "volunteer CSV line does not read");
                errors.push(LineError {
                    line,
                    field: "",
                    message: "这一行无法读取（请检查引号是否成对、文件是否为 UTF-8 编码）".into(),
                });
                continue;
            }
        };
        match from_record(&record)
            .map_err(|(f, m)| invalid(f, m))
            .and_then(|v| check(&v))
        {
            Ok(c) if !emails.insert(c.email.clone()) => errors.push(LineError {
                line,
                field: column_of("email"),
                message: "与前面的行重复".into(),
            }),
            Ok(c) => rows.push((line, c)),
            Err(Refusal::Invalid { field, message }) => errors.push(LineError {
                line,
                field: column_of(field),
                message,
            }),
            Err(e) => return Err(e),
        }
    }
    if rows.is_empty() && errors.is_empty() {
        return Err(invalid("file", "文件中没有志愿者"));
    }
    if !errors.is_empty() {
        return Err(Refusal::Lines(errors));
    }
    let count = rows.len();
    for (line, c) in rows {
        match add_checked(conn, by, c, now).await {
            Ok(_) => {}
            Err(Refusal::Invalid { field, message }) => errors.push(LineError {
                line,
                field: column_of(field),
                message,
            }),
            Err(Refusal::Forbidden(_)) => errors.push(LineError {
                line,
                field: column_of("home_village"),
                message: "您无权为这个村（社区）登记志愿者".into(),
            }),
            Err(e) => return Err(e),
        }
    }
    if errors.is_empty() {
        Ok(count)
    } else {
        // The caller's transaction rolls the rows added before back.
        Err(Refusal::Lines(errors))
    }
}

/// The volunteers living in `unit` (a county, or a township of one), for someone who manages
/// volunteers there.
pub async fn volunteers_of(
    conn: &mut Conn<'_>,
    by: Uuid,
    unit: OrgCode,
    now: DateTime<Utc>,
) -> Result<Vec<VolunteerRow>, Refusal> {
    if !jinguo_auth::may(conn, by, MANAGE_VOLUNTEERS, Target::Org(unit), now).await? {
        return Err(Refusal::Forbidden(MANAGE_VOLUNTEERS));
    }
    let mut rows = store::volunteers_of(conn, unit.at_level(OrgLevel::County)).await?;
    rows.retain(|v| v.home_village.is_within(&unit));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(fields.to_vec())
    }

    #[test]
    fn a_csv_row_reads_lists_and_dates() {
        let v = from_record(&record(&[
            "李梅",
            "limei@example.cn",
            "",
            "620122103201",
            "家风家教、法律宣传",
            "2",
            "2027-03-01",
            "",
            "2027-03-08;2027-03-09",
        ]))
        .unwrap();
        assert_eq!(v.topics, ["家风家教", "法律宣传"]);
        assert_eq!(v.phone, None);
        assert_eq!(v.available_from, Some("2027-03-01".parse().unwrap()));
        assert_eq!(v.available_to, None);
        assert_eq!(v.unavailable.len(), 2);
        assert!(check(&v).is_ok());
    }

    #[test]
    fn a_bad_csv_field_is_named() {
        let bad = |i: usize, value: &str| {
            let mut f = vec![
                "李梅",
                "limei@example.cn",
                "",
                "620122103201",
                "家风家教",
                "2",
                "",
                "",
                "",
            ];
            f[i] = value;
            from_record(&record(&f))
                .map_err(|(field, _)| field)
                .and_then(|v| match check(&v) {
                    Err(Refusal::Invalid { field, .. }) => Err(field),
                    _ => Ok(()),
                })
        };
        assert_eq!(bad(1, "not-mail"), Err("email"));
        assert_eq!(bad(2, "12345"), Err("phone"));
        assert_eq!(
            bad(3, "620122103000"),
            Err("home_village"),
            "a township is not a village"
        );
        assert_eq!(bad(4, "跳舞"), Err("topics"));
        assert_eq!(bad(5, "two"), Err("max_per_day"));
        assert_eq!(bad(5, "9"), Err("max_per_day"));
        assert_eq!(bad(6, "2027-13-45"), Err("available_from"));
        assert_eq!(bad(8, "明天"), Err("unavailable"));
    }

    #[test]
    fn the_template_names_every_column_and_its_example_reads() {
        let t = csv_template(OrgCode::parse("620122103201").unwrap());
        let mut r = csv::Reader::from_reader(t.as_bytes());
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header.len(), CSV_COLUMNS.len());
        let row = r.records().next().unwrap().unwrap();
        assert!(check(&from_record(&row).unwrap()).is_ok());
    }
}
