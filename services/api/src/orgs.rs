//! `GET /api/v1/orgs/{code}` and `GET /api/v1/orgs/{code}/children`.

use axum::Json;
use axum::extract::{Path, State};
use jinguo_core::org::{Location, OrgCode, OrgLevel, OrgUnit};
use jinguo_store::orgs;
use serde::Serialize;

use crate::{ApiError, AppState};

/// An org unit as the API shows it.
#[derive(Serialize)]
pub(crate) struct OrgView {
    code: OrgCode,
    name: String,
    parent: Option<OrgCode>,
    level: OrgLevel,
    /// `center`, `institute` or `station`; absent above the county.
    practice_center: Option<jinguo_core::org::PracticeCenter>,
    /// 新时代文明实践中心/所/站
    practice_center_name: Option<&'static str>,
    location: Option<Location>,
}

impl From<OrgUnit> for OrgView {
    fn from(u: OrgUnit) -> Self {
        OrgView {
            practice_center_name: u.practice_center.map(|p| p.label()),
            code: u.code,
            name: u.name,
            parent: u.parent,
            level: u.level,
            practice_center: u.practice_center,
            location: u.location,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ChildrenView {
    org: OrgView,
    children: Vec<OrgView>,
}

fn parse_code(raw: &str) -> Result<OrgCode, ApiError> {
    OrgCode::parse(raw).map_err(|e| ApiError::bad_request("code", e.to_string()))
}

fn unknown(code: OrgCode) -> ApiError {
    ApiError::not_found(format!("no org unit with code {code}"))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<OrgView>, ApiError> {
    let code = parse_code(&raw)?;
    let unit = state.store.read(|c| Box::pin(orgs::get(c, code))).await?;
    Ok(Json(unit.ok_or_else(|| unknown(code))?.into()))
}

pub(crate) async fn children(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<ChildrenView>, ApiError> {
    let code = parse_code(&raw)?;
    let (unit, children) = state
        .store
        .read(|c| {
            Box::pin(async move {
                let unit = orgs::get(c, code).await?;
                let children = orgs::children(c, code).await?;
                Ok::<_, jinguo_store::StoreError>((unit, children))
            })
        })
        .await?;
    let unit = unit.ok_or_else(|| unknown(code))?;
    Ok(Json(ChildrenView {
        org: unit.into(),
        children: children.into_iter().map(OrgView::from).collect(),
    }))
}
