//! The public 公示 pages (no sign-in): `GET /public/campaigns/{id}` (the county 公示) and
//! `/public/campaigns/{id}/villages/{code}` (a village's 公示), each family with a form to
//! object; `POST /public/campaigns/{id}/objections` takes the objection. Objections are
//! limited per client address and per nomination; the objector's contact goes to the county
//! reviewers only.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jinguo_core::org::OrgCode;
use jinguo_nominations::{Board, NewObjection, Refusal};
use uuid::Uuid;

use crate::auth::ClientAddr;
use crate::limits::{DAY, HOUR, Limit};
use crate::page::{self, Refused, RefusedForm, for_people, message};
use crate::picker::Typed;
use crate::{ApiError, AppState};

/// Objections one client address may raise in an hour (any nominations).
const OBJECTIONS_PER_ADDRESS_PER_HOUR: u32 = 5;
/// Objections one nomination takes in a day, from everyone: enough for a village that disagrees,
/// few enough that nobody floods the reviewers.
const OBJECTIONS_PER_NOMINATION_PER_DAY: u32 = 20;

#[derive(Template)]
#[template(path = "public/board.html")]
struct BoardPage {
    campaign_id: Uuid,
    board: Board,
    /// The page the objection form comes back to: the village's code for a village board.
    village_code: String,
    /// The family whose objection form was sent back, with what was typed and why.
    open: Option<Uuid>,
    values: Typed,
    refused: Option<Refused>,
}

impl RefusedForm for BoardPage {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }
}

impl BoardPage {
    fn is_open(&self, nomination: &Uuid) -> bool {
        self.open.as_ref() == Some(nomination)
    }
}

#[derive(Template)]
#[template(path = "public/objected.html")]
struct ObjectedPage {
    family: String,
    back: String,
}

/// `GET /public/campaigns/{id}`: the families in the campaign's county 公示.
pub(crate) async fn county_board(State(state): State<AppState>, Path(id): Path<Uuid>) -> Response {
    board_page(&state, id, None, None, Typed::default(), None).await
}

/// `GET /public/campaigns/{id}/villages/{code}`: the families in one village's 公示.
pub(crate) async fn village_board(
    State(state): State<AppState>,
    Path((id, code)): Path<(Uuid, String)>,
) -> Response {
    let Ok(village) = code.parse::<OrgCode>() else {
        return no_board();
    };
    board_page(&state, id, Some(village), None, Typed::default(), None).await
}

fn no_board() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "没有这个公示",
        "找不到这项评选的公示，请核对链接。".into(),
        None,
    )
}

async fn board_page(
    state: &AppState,
    id: Uuid,
    village: Option<OrgCode>,
    open: Option<Uuid>,
    values: Typed,
    refused: Option<Refused>,
) -> Response {
    let links = state.nominations();
    let loaded = state
        .store
        .read(move |c| {
            let links = links.clone();
            Box::pin(async move {
                jinguo_nominations::publicity_board(c, id, village, &links, jinguo_bus::now()).await
            })
        })
        .await;
    let board = match loaded {
        Ok(Some(board)) => board,
        Ok(None) => return no_board(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
    page::render(
        status,
        &BoardPage {
            campaign_id: id,
            board,
            village_code: village.map(|v| v.to_string()).unwrap_or_default(),
            open,
            values,
            refused,
        },
    )
}

/// `POST /public/campaigns/{id}/objections`: an objection to one family on a board. A refusal
/// shows the board again with that family's form open, the refusal beside its field and what
/// was typed kept.
pub(crate) async fn object(
    State(state): State<AppState>,
    client: ClientAddr,
    Path(id): Path<Uuid>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let typed = Typed(pairs);
    let village = typed.get("village").parse::<OrgCode>().ok();
    let Ok(nomination) = typed.get("nomination").parse::<Uuid>() else {
        return no_board();
    };
    let limits = [
        Limit::new(
            format!("objection:ip:{}", client.key()),
            OBJECTIONS_PER_ADDRESS_PER_HOUR,
            HOUR,
        ),
        Limit::new(
            format!("objection:nomination:{nomination}"),
            OBJECTIONS_PER_NOMINATION_PER_DAY,
            DAY,
        ),
    ];
    let again = |refused: Refused, typed: Typed| {
        let state = state.clone();
        async move { board_page(&state, id, village, Some(nomination), typed, Some(refused)).await }
    };
    if let Err(wait) = state.limiter.check(&limits) {
        let refused = Refused {
            field: None,
            message: format!(
                "提交过于频繁，暂时不能受理，{}",
                crate::limits::try_again_in(wait)
            ),
            status: StatusCode::TOO_MANY_REQUESTS,
        };
        let mut page = again(refused, typed).await;
        if page.status() == StatusCode::TOO_MANY_REQUESTS {
            crate::edge::set_retry_after(&mut page, wait);
        }
        return page;
    }
    let objection = NewObjection {
        name: typed.get("name").to_owned(),
        phone: typed.get("phone").to_owned(),
        reason: typed.get("reason").to_owned(),
    };
    let links = state.nominations();
    let result = state
        .store
        .transaction(move |c| {
            let (links, objection) = (links.clone(), objection.clone());
            Box::pin(async move {
                let n = jinguo_store::nominations::get(c, nomination).await?;
                // Only a family on this campaign's boards: another campaign's is not here.
                if n.as_ref().is_none_or(|n| n.campaign_id != id) {
                    return Err(Refusal::NotFound("该家庭现在不在公示期".into()));
                }
                jinguo_nominations::object(c, nomination, &objection, &links, jinguo_bus::now())
                    .await?;
                Ok(n.map(|n| jinguo_nominations::family_of(&n).head_name))
            })
        })
        .await;
    let refused = match result {
        Ok(family) => {
            state.limiter.record(&limits);
            let back = match village {
                Some(v) => format!("/public/campaigns/{id}/villages/{v}"),
                None => format!("/public/campaigns/{id}"),
            };
            return page::render(
                StatusCode::CREATED,
                &ObjectedPage {
                    family: family.unwrap_or_default(),
                    back,
                },
            );
        }
        Err(Refusal::Invalid { field, message }) => Refused::at(
            field,
            format!("{}：{}", field_label(field), for_people(&message)),
        ),
        Err(Refusal::NotFound(m)) => Refused::above(m),
        Err(other) => return ApiError::from(other).into_response(),
    };
    again(refused, typed).await
}

fn field_label(field: &str) -> &'static str {
    match field {
        "name" => "姓名",
        "phone" => "联系电话",
        "reason" => "异议理由",
        _ => "填写内容",
    }
}
