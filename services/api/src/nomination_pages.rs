//! 最美家庭 pages for signed-in staff: nominating a family as the organisation
//! (`/campaigns/{id}/nominate`, 组织推荐) and one nomination's page (`/nominations/{id}`) with its
//! timeline and the steps its reader may take (withdraw with a reason, edit and resubmit a
//! returned one).
//!
//! Every step goes through the program's one function (`submit`, `withdraw`, `resubmit`), so
//! every rule of the API holds here; the page reads the program's read model
//! (`nomination_detail`: masked identifiers only, a held nomination shown as village review to
//! all but the county case officers) and asks the same permission as `GET
//! /api/v1/nominations/{id}` (`nomination.view` at the village). A refusal is shown beside its
//! field with everything typed.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use jinguo_core::auth::Target;
use jinguo_core::nominations::{Channel, State as NominationState};
use jinguo_core::org::{OrgCode, OrgLevel};
use jinguo_nominations::{Detail, Family, Member, Nominator, Refusal, Submission};
use jinguo_store::{Conn, StoreError, staff};
use uuid::Uuid;

use crate::auth::SignedIn;
use crate::campaign_pages::no_such_campaign;
use crate::extract::{Form, Path};
use crate::nominate::refused_field;
use crate::page::{Refused, RefusedForm, message};
use crate::page::{render, signed_in};
use crate::picker::{Pick, Picker, Typed};
use crate::review::{refusal_text, state_label};
use crate::timeline::{Step, channel_label, timeline};
use crate::{ApiError, AppState};

fn no_such_nomination() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "没有这份推荐",
        "没有找到这份推荐，请核对链接。".into(),
        None,
    )
}

// --- /campaigns/{id}/nominate: 组织推荐 -------------------------------------------------------

#[derive(Template)]
#[template(path = "nominations/new.html")]
struct NominatePage {
    campaign: String,
    campaign_id: Uuid,
    categories: Vec<String>,
    csrf: String,
    picker: Picker,
    values: Typed,
    /// Every refusal of the last submission (several family fields may be wrong at once).
    refused: Vec<Refused>,
}

impl RefusedForm for NominatePage {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }
}

/// Where `person` may nominate in a campaign over `scope`: the deepest of the campaign's area
/// and the first of their units where they hold `nomination.submit` that overlaps it.
async fn nominating_root(
    conn: &mut Conn<'_>,
    person: Uuid,
    scope: OrgCode,
    now: DateTime<Utc>,
) -> Result<Option<OrgCode>, StoreError> {
    let Some(who) = staff::principal(conn, person, now).await? else {
        return Ok(None);
    };
    for a in &who.assignments {
        let root = if a.org.is_within(&scope) {
            a.org
        } else if scope.is_within(&a.org) {
            scope
        } else {
            continue;
        };
        if jinguo_auth::may(conn, person, "nomination.submit", Target::Org(root), now).await? {
            return Ok(Some(root));
        }
    }
    Ok(None)
}

async fn nominate_page(
    state: &AppState,
    session: &SignedIn,
    id: Uuid,
    values: Typed,
    refused: Vec<Refused>,
) -> Response {
    let person = session.person;
    let area_of = values.clone();
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let Some(campaign) = jinguo_nominations::campaign_summary(c, id).await? else {
                    return Ok(None);
                };
                let root = nominating_root(c, person, campaign.scope, jinguo_bus::now()).await?;
                let picker = match root {
                    Some(root) => Some(
                        Pick::Village
                            .picker(c, root, Pick::Village.area(root, &area_of))
                            .await?,
                    ),
                    None => None,
                };
                Ok::<_, Refusal>(Some((campaign, picker)))
            })
        })
        .await;
    let (campaign, picker) = match loaded {
        Ok(Some(v)) => v,
        Ok(None) => return no_such_campaign(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(picker) = picker else {
        return message(
            StatusCode::FORBIDDEN,
            "没有权限",
            format!("您在“{}”的范围内没有推荐家庭的权限。", campaign.name),
            Some("组织推荐由评选范围内的管理员、审核员办理；如需开通，请联系所在县区妇联管理员。"),
        );
    };
    let status = refused.first().map_or(StatusCode::OK, |r| r.status);
    render(
        status,
        &NominatePage {
            campaign: campaign.name,
            campaign_id: id,
            categories: campaign.categories,
            csrf: session.csrf.clone(),
            picker,
            values,
            refused,
        },
    )
}

/// `GET /campaigns/{id}/nominate`: the form.
pub(crate) async fn nominate_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    nominate_page(&state, &session, id, Typed::default(), Vec::new()).await
}

/// The members textarea: one person a line, the name and the relation separated by a space or
/// a comma (`王芳 妻子`).
fn members(raw: &str) -> Result<Vec<Member>, Refused> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let parts: Vec<&str> = line
                .split(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | '、'))
                .filter(|p| !p.is_empty())
                .collect();
            match parts.as_slice() {
                [name, relation] => Ok(Member {
                    name: (*name).to_owned(),
                    relation: (*relation).to_owned(),
                }),
                _ => Err(Refused::at(
                    "members",
                    format!("家庭成员：“{line}”这一行应写姓名和关系，中间空一格，如“王芳 妻子”"),
                )),
            }
        })
        .collect()
}

/// `POST /campaigns/{id}/nominate`: a picker step, or the nomination through the program's
/// one submission (channel 组织推荐); on success the nomination's page.
pub(crate) async fn nominate_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (session, typed) = match crate::page::posted_form(&state, &headers, pairs).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    if typed.is_picker_step() {
        return nominate_page(&state, &session, id, typed, Vec::new()).await;
    }
    // Every wrong field of the family at once (the program's own parsers), in the form's order:
    // the members come after the phone.
    let today = jinguo_bus::now()
        .with_timezone(&state.nominations().time_zone)
        .date_naive();
    let mut refused = crate::nominate::family_refusals(&typed, today, false);
    let members = match members(typed.get("members")) {
        Ok(m) => m,
        Err(r) => {
            let at = refused
                .iter()
                .position(|x| x.field == Some("story"))
                .unwrap_or(refused.len());
            refused.insert(at, r);
            Vec::new()
        }
    };
    if !refused.is_empty() {
        return nominate_page(&state, &session, id, typed, refused).await;
    }
    let submission = Submission {
        campaign_id: id,
        village: typed.get("village").trim().to_owned(),
        category: typed.get("category").to_owned(),
        channel: Channel::Organization,
        family: Family {
            head_name: typed.get("head_name").trim().to_owned(),
            head_id: typed.get("head_id").to_owned(),
            address: typed.get("address").to_owned(),
            phone: typed.optional("phone"),
            members,
        },
        story: typed.get("story").to_owned(),
    };
    let links = state.nominations();
    let person = session.person;
    let result =
        jinguo_nominations::submit(&state.store, submission, Nominator::Staff(person), &links)
            .await;
    let refused = match result {
        Ok(nomination) => {
            return Redirect::to(&format!("/nominations/{nomination}")).into_response();
        }
        Err(Refusal::Invalid { field, message }) if field.starts_with("family.members") => {
            Refused::at("members", format!("家庭成员：{message}"))
        }
        Err(Refusal::Invalid { field, message }) => refused_field(field, message),
        Err(Refusal::Forbidden(_)) => Refused {
            field: Some("village"),
            message: "所在村（社区）：您不能在这个村（社区）推荐家庭".into(),
            status: StatusCode::FORBIDDEN,
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
            message: refusal_text(&other),
            status: StatusCode::CONFLICT,
        },
    };
    nominate_page(&state, &session, id, typed, vec![refused]).await
}

// --- /nominations/{id}: the nomination and its timeline ----------------------------------------

#[derive(Template)]
#[template(path = "nominations/show.html")]
struct NominationPage {
    detail: Detail,
    channel: &'static str,
    state: &'static str,
    timeline: Vec<Step>,
    csrf: String,
    may_withdraw: bool,
    may_resubmit: bool,
    /// A county admin may 催办 the reviewers of the level it waits on.
    may_urge: bool,
    /// The open tasks an admin may hand to another reviewer (empty for everyone else).
    reassign: Vec<jinguo_nominations::ReassignChoice>,
    values: Typed,
    refused: Option<Refused>,
}

impl RefusedForm for NominationPage {
    fn refusals(&self) -> &[Refused] {
        self.refused.as_slice()
    }
}

impl NominationPage {
    /// What the resubmit form's story holds: what was typed after a refusal, else the story.
    fn story_typed(&self) -> &str {
        if self.refused.is_some() && self.values.0.iter().any(|(k, _)| k == "story") {
            self.values.get("story")
        } else {
            &self.detail.story
        }
    }

    fn members(&self) -> String {
        crate::timeline::members_line(&self.detail.family.members)
    }
}

async fn nomination_page(
    state: &AppState,
    session: &SignedIn,
    id: Uuid,
    values: Typed,
    refused: Option<Refused>,
) -> Response {
    let person = session.person;
    let loaded = state
        .store
        .read(move |c| {
            Box::pin(async move {
                let now = jinguo_bus::now();
                let Some(d) = jinguo_nominations::nomination_detail(c, id, person, now).await?
                else {
                    return Ok(None);
                };
                let at = Target::Org(d.village);
                let view = jinguo_auth::may(c, person, "nomination.view", at, now).await?;
                let withdraw = jinguo_auth::may(c, person, "nomination.withdraw", at, now).await?;
                let submit = jinguo_auth::may(c, person, "nomination.submit", at, now).await?;
                // 催办 and 转交 are the county admins'.
                let county = Target::Org(d.village.at_level(OrgLevel::County));
                let urge = jinguo_auth::may(c, person, "campaign.manage", county, now).await?;
                let reassign = if jinguo_auth::may(c, person, "staff.manage", county, now).await? {
                    jinguo_nominations::reassign_choices(c, id).await?
                } else {
                    Vec::new()
                };
                Ok::<_, Refusal>(Some((d, view, withdraw, submit, urge, reassign)))
            })
        })
        .await;
    let (detail, may_view, may_withdraw, may_submit, may_urge, reassign) = match loaded {
        Ok(Some(v)) => v,
        Ok(None) => return no_such_nomination(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !may_view {
        return message(
            StatusCode::FORBIDDEN,
            "没有权限",
            format!(
                "这份推荐属于{}{}，不在您负责的范围内。",
                detail.township_name, detail.village_name
            ),
            Some("如需查看，请联系所在县区妇联管理员。"),
        );
    }
    let timeline = timeline(&detail, state.nominations().time_zone);
    let status = refused.as_ref().map_or(StatusCode::OK, |r| r.status);
    let s = detail.state;
    render(
        status,
        &NominationPage {
            channel: channel_label(&detail.channel),
            state: state_label(s),
            timeline,
            csrf: session.csrf.clone(),
            may_withdraw: may_withdraw && s.is_open(),
            may_resubmit: may_submit && s == NominationState::Returned,
            may_urge: may_urge && s.public().review_level().is_some(),
            reassign,
            detail,
            values,
            refused,
        },
    )
}

/// `GET /nominations/{id}`: the nomination as its reader may see it, its timeline, and the
/// steps they may take.
pub(crate) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Response {
    let session = match signed_in(&state, &headers).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    nomination_page(&state, &session, id, Typed::default(), None).await
}

/// `POST /nominations/{id}/withdraw` (a reason) or `/resubmit` (the story, revised or not):
/// through the program's step; back to the page on success, the page with the refusal beside
/// the field otherwise.
pub(crate) async fn act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(Uuid, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (session, typed) = match crate::page::posted_form(&state, &headers, pairs).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let person = session.person;
    let result = match action.as_str() {
        "withdraw" => {
            let Some(reason) = typed.optional("reason") else {
                let refused = Refused::at("reason", "撤回原因：请填写撤回的原因");
                return nomination_page(&state, &session, id, typed, Some(refused)).await;
            };
            state
                .store
                .transaction(move |c| {
                    let reason = reason.clone();
                    Box::pin(async move {
                        jinguo_nominations::withdraw(
                            c,
                            id,
                            person,
                            Some(&reason),
                            jinguo_bus::now(),
                        )
                        .await
                    })
                })
                .await
        }
        "resubmit" => {
            let story = typed.optional("story");
            let links = state.nominations();
            state
                .store
                .transaction(move |c| {
                    let (story, links) = (story.clone(), links.clone());
                    Box::pin(async move {
                        jinguo_nominations::resubmit(
                            c,
                            id,
                            person,
                            story.as_deref(),
                            &links,
                            jinguo_bus::now(),
                        )
                        .await
                    })
                })
                .await
        }
        "reassign" => {
            let Ok(task) = typed.get("task").parse::<Uuid>() else {
                return no_such_nomination();
            };
            crate::nominations::reassign_task(&state, task, person, typed.get("reviewer"))
                .await
                .map(|()| NominationState::VillageReview)
        }
        "urge" => crate::nominations::urge(&state, id, person)
            .await
            .map(|(_, to)| to),
        _ => {
            return message(
                StatusCode::NOT_FOUND,
                "页面不存在",
                "没有这个操作。".into(),
                None,
            );
        }
    };
    let refused = match result {
        Ok(_) => return Redirect::to(&format!("/nominations/{id}")).into_response(),
        Err(Refusal::Invalid {
            field: "reason",
            message,
        }) => Refused::at("reason", format!("撤回原因：{message}")),
        Err(Refusal::Invalid {
            field: "story",
            message,
        }) => Refused::at("story", format!("家庭事迹：{message}")),
        Err(Refusal::Invalid {
            field: "reviewer",
            message,
        }) => Refused::at("reviewer", format!("转交给：{message}")),
        Err(Refusal::NotFound(_)) => return no_such_nomination(),
        Err(Refusal::Forbidden(_)) => {
            return crate::page::forbidden(
                &state,
                session.person,
                "您没有办理这项操作的权限",
                Some("撤回由管理员办理；修改后重新提交由推荐单位办理。"),
            )
            .await;
        }
        Err(Refusal::Store(e)) => return ApiError::from(e).into_response(),
        Err(other) => Refused {
            field: None,
            message: match other {
                Refusal::Conflict(m) => format!("{m}。"),
                other => refusal_text(&other),
            },
            status: StatusCode::CONFLICT,
        },
    };
    nomination_page(&state, &session, id, typed, Some(refused)).await
}
