//! The public self-nomination form (本人自荐): no account needed, rate-limited per address.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use jinguo_core::nominations::Channel;
use jinguo_nominations::{Family, Refusal, Rules, Submission};
use jinguo_store::nominations as store;
use serde::Deserialize;
use uuid::Uuid;

use crate::signin::message;
use crate::{ApiError, AppState};

#[derive(Template)]
#[template(path = "nominate.html")]
struct NominatePage {
    campaign: String,
    campaign_id: Uuid,
    categories: Vec<String>,
    error: Option<String>,
}

async fn form_page(state: &AppState, id: Uuid, error: Option<String>) -> Response {
    let campaign = match state
        .store
        .read(move |c| Box::pin(store::get_campaign(c, id)))
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                "没有这项评选",
                "请核对评选链接。".into(),
                None,
            );
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let categories = serde_json::from_str::<Rules>(&campaign.rules)
        .map(|r| r.categories)
        .unwrap_or_default();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = NominatePage {
        campaign: campaign.name,
        campaign_id: id,
        categories,
        error,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// `GET /nominate/{campaign_id}`.
pub(crate) async fn form(State(state): State<AppState>, Path(id): Path<Uuid>) -> Response {
    form_page(&state, id, None).await
}

#[derive(Deserialize)]
pub(crate) struct NominateForm {
    village: String,
    category: String,
    head_name: String,
    head_id: String,
    address: String,
    phone: Option<String>,
    story: String,
}

/// Field names as the form shows them, for refusals.
fn field_label(field: &str) -> &'static str {
    match field {
        "village" => "所在村/社区代码",
        "category" => "推荐类别",
        "story" => "家庭事迹",
        "family.head_name" => "户主姓名",
        "family.head_id" => "户主身份证号或手机号",
        _ => "填写内容",
    }
}

/// `POST /nominate/{campaign_id}`.
pub(crate) async fn submit(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Form(f): Form<NominateForm>,
) -> Response {
    let submission = Submission {
        campaign_id: id,
        village: f.village.trim().to_owned(),
        category: f.category,
        channel: Channel::SelfNominated,
        family: Family {
            head_name: f.head_name.trim().to_owned(),
            head_id: f.head_id,
            address: f.address,
            phone: f.phone.filter(|p| !p.trim().is_empty()),
            members: Vec::new(),
        },
        story: f.story,
    };
    let links = crate::nominations::links(&state);
    let result = state
        .store
        .transaction(move |c| {
            Box::pin(async move {
                jinguo_nominations::submit(c, submission, "public", &links, jinguo_bus::now()).await
            })
        })
        .await;
    match result {
        Ok(nomination) => message(
            StatusCode::CREATED,
            "自荐已提交",
            format!("谢谢！您的自荐已提交村级审核，编号 {nomination}。"),
            Some("审核结果将由村妇联告知。"),
        ),
        Err(Refusal::Invalid { field, message }) => {
            form_page(
                &state,
                id,
                Some(format!("{}：{message}", field_label(field))),
            )
            .await
        }
        Err(Refusal::Ineligible { message: text, .. }) => {
            message(StatusCode::UNPROCESSABLE_ENTITY, "无法提交", text, None)
        }
        Err(Refusal::NotFound(_)) => message(
            StatusCode::NOT_FOUND,
            "没有这项评选",
            "请核对评选链接。".into(),
            None,
        ),
        Err(Refusal::Store(e)) => ApiError::from(e).into_response(),
        Err(other) => message(StatusCode::CONFLICT, "无法提交", other.to_string(), None),
    }
}
