//! The public self-nomination form (本人自荐): no account needed.
//!
//! The village is chosen by name with the no-JavaScript picker ([`crate::picker`]), starting at
//! the campaign's area; a posted village code is still accepted. The phone is required: the
//! village federation tells the family the result. The confirmation gives the nomination's
//! short readable reference (`620122-2026-0042`), never its id.
//!
//! Limits on accepted submissions (configurable under `[nominations]`): per client address per
//! hour, per campaign per hour, and per campaign and village per day. They are checked before a
//! submission and counted when one is accepted, so mistakes corrected and resent do not use them
//! up; the per-address request limit of every public endpoint still applies to each attempt.
//! (Submissions in flight at the same moment may pass a limit by their number.)
//!
//! A refusal shows the form again with what was typed, and the reason beside the field it is
//! about (or above the form when it is about no one field). The family's fields are first read
//! with the very parsers the program's submission uses (name, ID number or phone, address,
//! contact phone, story), so that every field wrong at once is named at once, each beside
//! itself; the program then decides as always (village, category, eligibility).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jinguo_core::identity::{HouseholdKey, MobilePhone};
use jinguo_core::nominations::{Channel, Story};
use jinguo_core::org::OrgCode;
use jinguo_core::text::{self, ADDRESS_MAX, NAME_MAX};
use jinguo_nominations::{Family, Refusal, Submission};
use uuid::Uuid;

use crate::auth::ClientAddr;
use crate::extract::{Form, Path};
use crate::limits::{DAY, HOUR, Limit};
use crate::page::render;
use crate::page::{Refused, RefusedForm, message};
use crate::picker::{Pick, Picker, Typed};
use crate::{ApiError, AppState};

#[derive(Template)]
#[template(path = "nominate.html")]
struct NominatePage {
    campaign: String,
    campaign_id: Uuid,
    categories: Vec<String>,
    picker: Picker,
    values: Typed,
    /// Every refusal of the last submission (several fields may be wrong at once).
    refused: Vec<Refused>,
}

impl RefusedForm for NominatePage {
    fn refusals(&self) -> &[Refused] {
        &self.refused
    }
}

#[derive(Template)]
#[template(path = "nominate_done.html")]
struct DonePage {
    campaign: String,
    reference: Option<String>,
}

async fn form_page(state: &AppState, id: Uuid, values: Typed, refused: Vec<Refused>) -> Response {
    let campaign = match state
        .store
        .read(move |c| Box::pin(jinguo_nominations::campaign_summary(c, id)))
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return no_such_campaign(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let root = campaign.scope;
    let area = Pick::Village.area(root, &values);
    let picker = match state
        .store
        .read(move |c| Box::pin(Pick::Village.picker(c, root, area)))
        .await
    {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let status = refused
        .iter()
        .map(|r| r.status)
        .max()
        .unwrap_or(StatusCode::OK);
    let page = NominatePage {
        campaign: campaign.name,
        campaign_id: id,
        categories: campaign.categories,
        picker,
        values,
        refused,
    };
    render(status, &page)
}

fn no_such_campaign() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "没有这项评选",
        "没有找到这项评选，请核对评选链接或二维码。".into(),
        Some("如有疑问，请联系所在村（社区）妇联。"),
    )
}

/// `GET /nominate/{campaign_id}`.
pub(crate) async fn form(State(state): State<AppState>, Path(id): Path<Uuid>) -> Response {
    form_page(&state, id, Typed::default(), Vec::new()).await
}

/// The form's field for a refusal's `field` (`family.head_name` is the form's `head_name`),
/// and its label.
fn form_field(field: &str) -> Option<(&'static str, &'static str)> {
    Some(match field.strip_prefix("family.").unwrap_or(field) {
        "village" => ("village", "所在村（社区）"),
        "category" => ("category", "推荐类别"),
        "story" => ("story", "家庭事迹"),
        "head_name" => ("head_name", "户主姓名"),
        "head_id" => ("head_id", "户主身份证号或手机号"),
        "address" => ("address", "家庭住址"),
        "phone" => ("phone", "联系电话"),
        _ => return None,
    })
}

/// A program's refusal of a nomination form as the page shows it: beside its field when the
/// form has it, with the field's Chinese name. `None`: the refusal needs a page of its own.
pub(crate) fn refused_field(field: &str, message: String) -> Refused {
    match form_field(field) {
        Some((field, label)) => Refused::at(field, format!("{label}：{message}")),
        None => Refused {
            field: None,
            message,
            status: StatusCode::BAD_REQUEST,
        },
    }
}

/// The limits on accepted submissions from `client` to campaign `id` for `village`.
fn limits(state: &AppState, id: Uuid, village: &str, client: &ClientAddr) -> [Limit; 3] {
    let n = &state.config.nominations;
    let village = OrgCode::parse(village).map_or_else(|_| village.to_owned(), |c| c.to_string());
    [
        Limit::new(
            format!("nominate:ip:{}", client.key()),
            n.public_form_per_ip_per_hour,
            HOUR,
        ),
        Limit::new(
            format!("nominate:campaign:{id}"),
            n.public_form_per_campaign_per_hour,
            HOUR,
        ),
        Limit::new(
            format!("nominate:village:{id}:{village}"),
            n.public_form_per_village_per_day,
            DAY,
        ),
    ]
}

/// `POST /nominate/{campaign_id}`: a picker step (the form again, nothing taken in), or the
/// self-nomination.
pub(crate) async fn submit(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    client: ClientAddr,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let typed = Typed(pairs);
    if typed.is_picker_step() {
        return form_page(&state, id, typed, Vec::new()).await;
    }
    let limits = limits(&state, id, typed.get("village").trim(), &client);
    if let Err(wait) = state.limiter.check(&limits) {
        let refused = Refused {
            field: None,
            message: format!(
                "提交过于频繁，暂时不能受理，{}",
                crate::limits::try_again_in(wait)
            ),
            status: StatusCode::TOO_MANY_REQUESTS,
        };
        let mut page = form_page(&state, id, typed, vec![refused]).await;
        if page.status() == StatusCode::TOO_MANY_REQUESTS {
            crate::edge::set_retry_after(&mut page, wait);
        }
        return page;
    }
    let today = jinguo_bus::now()
        .with_timezone(&state.config.calendar.time_zone)
        .date_naive();
    let refused = family_refusals(&typed, today, true);
    if !refused.is_empty() {
        return form_page(&state, id, typed, refused).await;
    }
    let phone = typed.optional("phone");
    let submission = Submission {
        campaign_id: id,
        village: typed.get("village").trim().to_owned(),
        category: typed.get("category").to_owned(),
        channel: Channel::SelfNominated,
        family: Family {
            head_name: typed.get("head_name").trim().to_owned(),
            head_id: typed.get("head_id").to_owned(),
            address: typed.get("address").to_owned(),
            phone,
            members: Vec::new(),
        },
        story: typed.get("story").to_owned(),
    };
    let links = state.nominations();
    let result = jinguo_nominations::submit(
        &state.store,
        submission,
        jinguo_nominations::Nominator::Public,
        &links,
    )
    .await;
    let refused = match result {
        Ok(nomination) => {
            state.limiter.record(&limits);
            return confirmation(&state, id, nomination).await;
        }
        Err(Refusal::Invalid { field, message }) => refused_field(field, message),
        Err(Refusal::Ineligible { message, .. }) => Refused {
            field: None,
            message,
            status: StatusCode::UNPROCESSABLE_ENTITY,
        },
        Err(Refusal::NotFound(_)) => return no_such_campaign(),
        Err(Refusal::Store(e)) => return ApiError::from(e).into_response(),
        Err(other) => Refused {
            field: None,
            message: crate::review::refusal_text(&other),
            status: StatusCode::CONFLICT,
        },
    };
    form_page(&state, id, typed, vec![refused]).await
}

/// Every field of the family that the program's submission would refuse, read with the same
/// parsers and bounds it uses (`jinguo_nominations::submit` → `parse_family`, `Story::parse`),
/// each beside its field (`head_name`, `head_id`, `address`, `phone`, `story`); a blank phone
/// is refused only when `phone_required` (this public form: the result is told by phone).
/// The organisation's form can use it too, to name every wrong field at once.
pub(crate) fn family_refusals(
    typed: &Typed,
    today: chrono::NaiveDate,
    phone_required: bool,
) -> Vec<Refused> {
    let mut refused = Vec::new();
    if let Err(e) = text::single_line(typed.get("head_name"), NAME_MAX) {
        refused.push(refused_field("head_name", e.message()));
    }
    if let Err(e) = HouseholdKey::parse(typed.get("head_id"), today) {
        refused.push(refused_field("head_id", e.message().to_owned()));
    }
    if let Err(e) = text::single_line(typed.get("address"), ADDRESS_MAX) {
        refused.push(refused_field("address", e.message()));
    }
    // The village federation tells the family the result: a phone is needed to reach them.
    match typed.optional("phone") {
        None if !phone_required => {}
        None => refused.push(Refused::at(
            "phone",
            "联系电话：请填写，村妇联会通过这个电话告知审核结果",
        )),
        Some(phone) => {
            if let Err(e) = MobilePhone::parse(&phone) {
                refused.push(refused_field("phone", e.message().to_owned()));
            }
        }
    }
    if let Err(m) = Story::parse(typed.get("story")) {
        refused.push(refused_field("story", m));
    }
    refused
}

/// What the family sees once their nomination is in: the reference to quote, no id.
async fn confirmation(state: &AppState, campaign_id: Uuid, nomination: Uuid) -> Response {
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let campaign = jinguo_nominations::campaign_summary(c, campaign_id).await?;
                let reference = jinguo_nominations::reference_of(c, nomination).await?;
                Ok::<_, Refusal>((campaign.map(|c| c.name).unwrap_or_default(), reference))
            })
        })
        .await;
    match loaded {
        Ok((campaign, reference)) => render(
            StatusCode::CREATED,
            &DonePage {
                campaign,
                reference,
            },
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wrong_field_of_the_family_is_named_at_once() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let form = Typed::of(&[
            ("head_name", "王秀兰"),
            ("head_id", "620122198001011234"),
            ("address", "城中社区幸福路12号"),
            ("phone", "1391234"),
            ("story", "太短了"),
        ]);
        let fields: Vec<_> = family_refusals(&form, today, true)
            .iter()
            .map(|r| r.field)
            .collect();
        assert_eq!(fields, [Some("phone"), Some("story")]);
        let blank_phone = Typed::of(&[("phone", " "), ("story", "太短了")]);
        let fields: Vec<_> = family_refusals(&blank_phone, today, false)
            .iter()
            .map(|r| r.field)
            .collect();
        assert_eq!(
            fields,
            [
                Some("head_name"),
                Some("head_id"),
                Some("address"),
                Some("story")
            ]
        );
        assert_eq!(family_refusals(&blank_phone, today, true).len(), 5);
    }
}
