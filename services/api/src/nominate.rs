//! The public self-nomination form (本人自荐): no account needed.
//!
//! Limits on accepted submissions (configurable under `[nominations]`): per client address per
//! hour, per campaign per hour, and per campaign and village per day. They are checked before a
//! submission and counted when one is accepted, so mistakes corrected and resent do not use them
//! up; the per-address request limit of every public endpoint still applies to each attempt.
//! (Submissions in flight at the same moment may pass a limit by their number.)
//!
//! A refusal shows the form again with what was typed, and the reason beside the field it is
//! about (or above the form when it is about no one field).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use jinguo_core::nominations::Channel;
use jinguo_core::org::OrgCode;
use jinguo_nominations::{Family, Refusal, Submission};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::ClientAddr;
use crate::extract::{Form, Path};
use crate::limits::{DAY, HOUR, Limit};
use crate::page::{Refused, message, refused_above, refused_at};
use crate::{ApiError, AppState};

/// What the form holds: empty on first show, what was typed after a refusal.
#[derive(Deserialize, Default)]
pub(crate) struct NominateForm {
    village: String,
    category: String,
    head_name: String,
    head_id: String,
    address: String,
    #[serde(default)]
    phone: String,
    story: String,
}

#[derive(Template)]
#[template(path = "nominate.html")]
struct NominatePage {
    campaign: String,
    campaign_id: Uuid,
    categories: Vec<String>,
    values: NominateForm,
    refused: Option<Refused>,
}

impl NominatePage {
    /// The refusal to show beside `field`.
    fn error_at(&self, field: &str) -> Option<&str> {
        refused_at(&self.refused, field)
    }

    /// The refusal to show above the form.
    fn general_error(&self) -> Option<&str> {
        refused_above(&self.refused)
    }
}

async fn form_page(
    state: &AppState,
    id: Uuid,
    values: NominateForm,
    refused: Option<Refused>,
) -> Response {
    let campaign = match state
        .store
        .read(move |c| Box::pin(jinguo_nominations::campaign_summary(c, id)))
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return no_such_campaign(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let categories = campaign.categories;
    let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
    let page = NominatePage {
        campaign: campaign.name,
        campaign_id: id,
        categories,
        values,
        refused,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

fn no_such_campaign() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "没有这项评选",
        "请核对评选链接。".into(),
        None,
    )
}

/// `GET /nominate/{campaign_id}`.
pub(crate) async fn form(State(state): State<AppState>, Path(id): Path<Uuid>) -> Response {
    form_page(&state, id, NominateForm::default(), None).await
}

/// The form's field for a refusal's `field` (`family.head_name` is the form's `head_name`),
/// and its label.
fn form_field(field: &str) -> Option<(&'static str, &'static str)> {
    Some(match field.strip_prefix("family.").unwrap_or(field) {
        "village" => ("village", "所在村/社区代码"),
        "category" => ("category", "推荐类别"),
        "story" => ("story", "家庭事迹"),
        "head_name" => ("head_name", "户主姓名"),
        "head_id" => ("head_id", "户主身份证号或手机号"),
        "address" => ("address", "家庭住址"),
        "phone" => ("phone", "联系电话"),
        _ => return None,
    })
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

/// `POST /nominate/{campaign_id}`.
pub(crate) async fn submit(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    client: ClientAddr,
    Form(f): Form<NominateForm>,
) -> Response {
    let limits = limits(&state, id, f.village.trim(), &client);
    if let Err(wait) = state.limiter.check(&limits) {
        let refused = Refused {
            field: None,
            message: format!(
                "提交过于频繁，暂时不能受理，{}",
                crate::limits::try_again_in(wait)
            ),
            status: StatusCode::TOO_MANY_REQUESTS,
        };
        let mut page = form_page(&state, id, f, Some(refused)).await;
        if page.status() == StatusCode::TOO_MANY_REQUESTS {
            crate::edge::set_retry_after(&mut page, wait);
        }
        return page;
    }
    let submission = Submission {
        campaign_id: id,
        village: f.village.trim().to_owned(),
        category: f.category.clone(),
        channel: Channel::SelfNominated,
        family: Family {
            head_name: f.head_name.trim().to_owned(),
            head_id: f.head_id.clone(),
            address: f.address.clone(),
            phone: Some(f.phone.clone()).filter(|p| !p.trim().is_empty()),
            members: Vec::new(),
        },
        story: f.story.clone(),
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
        Ok(_) => {
            state.limiter.record(&limits);
            // No number: a UUID means nothing to a family, and the village federation tells
            // them the outcome.
            return message(
                StatusCode::CREATED,
                "自荐已提交",
                "谢谢！您的自荐已提交村级审核。".into(),
                Some("审核结果将由村妇联告知。"),
            );
        }
        Err(Refusal::Invalid { field, message }) => match form_field(field) {
            Some((field, label)) => Refused {
                field: Some(field),
                message: format!("{label}：{message}"),
                status: StatusCode::BAD_REQUEST,
            },
            None => Refused {
                field: None,
                message,
                status: StatusCode::BAD_REQUEST,
            },
        },
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
    form_page(&state, id, f, Some(refused)).await
}
