//! Jinguo's HTTP face: the JSON API under `/api/v1`, health and readiness, and pages.

mod auth;
mod award_pages;
mod campaign_pages;
mod dashboard;
mod edge;
mod error;
mod extract;
mod health;
mod limits;
mod links;
mod nominate;
mod nomination_pages;
mod nominations;
mod orgs;
mod page;
mod pages;
mod picker;
mod publicity_pages;
mod referral_pages;
mod referrals;
mod review;
mod signin;
mod staff;
mod timeline;
mod tour_pages;
mod tours;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use jinguo_config::Config;
use jinguo_store::Store;
use tokio::net::TcpListener;

pub use edge::{CSP, MAX_URI_BYTES};
pub use error::ApiError;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub limiter: Arc<limits::RateLimiter>,
    /// Loaded once: working days for deadlines.
    pub calendar: Arc<jinguo_core::calendar::Calendar>,
    /// Built once: seals and opens personal data at rest.
    pub sealer: Arc<jinguo_auth::seal::Sealer>,
    /// What each purpose of emailed link shows and does.
    link_actions: Arc<links::LinkActions>,
    /// Built once (it loads the referral policy files): what the referrals program needs.
    referrals: Arc<jinguo_referrals::Settings>,
    /// What the tours program needs (built once).
    tours: Arc<jinguo_tour_program::Settings>,
}

impl AppState {
    /// Loads the calendar and the data keys once; a bad calendar file or key is a
    /// configuration error.
    pub fn new(store: Store, config: Arc<Config>) -> Result<AppState, jinguo_config::ConfigError> {
        let calendar = Arc::new(config.calendar.load()?);
        let sealer = Arc::new(jinguo_nominations::sealer_from(&config)?);
        let referrals =
            jinguo_referrals::Settings::from_config(&config, calendar.clone(), sealer.clone())?;
        let tours = jinguo_tour_program::Settings::from_config(&config, calendar.clone())?;
        Ok(AppState {
            tours: Arc::new(tours),
            calendar,
            sealer,
            referrals: Arc::new(referrals),
            link_actions: Arc::new(
                links::LinkActions::default()
                    .with(SIGN_IN, signin::SignInAction)
                    .with(jinguo_nominations::REVIEW, review::NominationLink::Review)
                    .with(
                        jinguo_nominations::ELIGIBILITY,
                        review::NominationLink::Eligibility,
                    )
                    .with(
                        jinguo_nominations::OBJECTION,
                        review::NominationLink::Objection,
                    )
                    .with(jinguo_referrals::ACKNOWLEDGE, referral_pages::ReferralLink)
                    .with(jinguo_tour_program::DECLINE, tours::DeclineLink)
                    .with(jinguo_tour_program::ATTENDANCE, tours::AttendanceLink),
            ),
            store,
            config,
            limiter: Arc::new(limits::RateLimiter::new()),
        })
    }
}

impl AppState {
    /// What the nominations program needs from configuration, with what was loaded once.
    pub(crate) fn nominations(&self) -> jinguo_nominations::Links {
        jinguo_nominations::links_from(&self.config, self.calendar.clone(), self.sealer.clone())
    }

    /// What the referrals program needs from configuration (built once in [`AppState::new`]).
    pub(crate) fn referrals(&self) -> &Arc<jinguo_referrals::Settings> {
        &self.referrals
    }

    /// What the tours program needs (built once in [`AppState::new`]).
    pub(crate) fn tours(&self) -> &Arc<jinguo_tour_program::Settings> {
        &self.tours
    }
}

pub use signin::SIGN_IN;

/// How long a readiness probe waits for each dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.http.body_limit_bytes;
    // Mail written to files can be read here during development; never on a public address.
    let mailbox = state.config.http.addr.ip().is_loopback() && state.config.mail.smtp_url.is_none();
    let router = if mailbox {
        Router::new().route("/dev/mailbox", get(pages::mailbox))
    } else {
        Router::new()
    };
    // Sign-in, action links and public endpoints: limited per client address.
    let limited = Router::new()
        .route("/signin", get(signin::sign_in_form).post(signin::sign_in))
        .route("/link/{token}", get(links::show_link).post(links::use_link))
        .route(
            "/nominate/{campaign_id}",
            get(nominate::form).post(nominate::submit),
        )
        .route(
            "/help",
            get(referral_pages::help_form).post(referral_pages::help_submit),
        )
        .route(
            "/public/campaigns/{id}/awarded",
            get(award_pages::public_list),
        )
        .route("/api/v1/orgs/{code}", get(orgs::show))
        .route("/api/v1/orgs/{code}/children", get(orgs::children))
        .route("/public/campaigns/{id}", get(publicity_pages::county_board))
        .route(
            "/public/campaigns/{id}/villages/{code}",
            get(publicity_pages::village_board),
        )
        .route(
            "/public/campaigns/{id}/objections",
            post(publicity_pages::object),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::limit_per_ip,
        ));
    let routes = router
        .merge(limited)
        .route("/", get(pages::start))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/me", get(signin::me))
        .route("/admin/campaigns/{id}", get(dashboard::page))
        .route(
            "/admin/campaigns/{id}/export.xlsx",
            get(dashboard::export_xlsx),
        )
        .route(
            "/admin/campaigns/{id}/export.csv",
            get(dashboard::export_csv),
        )
        .route(
            "/admin/campaigns/{id}/awarded",
            get(award_pages::staff_list),
        )
        .route(
            "/admin/campaigns/{id}/awarded.xlsx",
            get(award_pages::export_xlsx),
        )
        .route(
            "/admin/campaigns/{id}/awarded.csv",
            get(award_pages::export_csv),
        )
        .route(
            "/admin/campaigns/{id}/awarded/{nomination_id}/certificate",
            get(award_pages::certificate),
        )
        .route("/admin/status", get(pages::admin_status))
        .route("/campaigns", get(campaign_pages::list))
        .route(
            "/campaigns/new",
            get(campaign_pages::new_form).post(campaign_pages::create),
        )
        .route(
            "/campaigns/{id}/edit",
            get(campaign_pages::edit_form).post(campaign_pages::update),
        )
        .route("/campaigns/{id}", get(campaign_pages::show))
        .route(
            "/tasks/{task_id}",
            get(review::task_page).post(review::decide_task),
        )
        .route("/signout", post(signin::sign_out))
        .route(
            "/admin/staff",
            get(staff::admin_page).post(staff::admin_add),
        )
        .route("/admin/staff/import", post(staff::admin_import))
        .route("/admin/staff/template.csv", get(staff::csv_template))
        .route(
            "/admin/staff/{id}/{action}",
            get(staff::admin_person_page).post(staff::admin_person),
        )
        .route("/api/v1/me", get(staff::me))
        .route("/api/v1/staff", get(staff::list).post(staff::create))
        .route("/api/v1/break-glass", post(staff::break_glass))
        .route(
            "/api/v1/referrals",
            get(referrals::list).post(referrals::create),
        )
        .route("/api/v1/referrals/{id}", get(referrals::show))
        .route("/api/v1/referrals/{id}/assess", post(referrals::assess))
        .route(
            "/api/v1/referrals/{id}/tasks/{task_id}/acknowledge",
            post(referrals::acknowledge),
        )
        .route(
            "/api/v1/referrals/{id}/tasks/{task_id}/start",
            post(referrals::start),
        )
        .route(
            "/api/v1/referrals/{id}/tasks/{task_id}/complete",
            post(referrals::complete),
        )
        .route(
            "/api/v1/referrals/{id}/tasks/{task_id}/decline",
            post(referrals::decline),
        )
        .route(
            "/api/v1/referrals/{id}/followups",
            post(referrals::follow_up),
        )
        .route("/api/v1/referrals/{id}/close", post(referrals::close))
        .route("/api/v1/referrals/{id}/reopen", post(referrals::reopen))
        .route("/referrals", get(referral_pages::list))
        .route(
            "/referrals/new",
            get(referral_pages::intake_form).post(referral_pages::intake_submit),
        )
        .route("/referrals/{id}", get(referral_pages::case_page))
        .route(
            "/referrals/{id}/{action}",
            post(referral_pages::case_action),
        )
        .route(
            "/referrals/{id}/tasks/{task_id}/{step}",
            post(referral_pages::task_action),
        )
        .route(
            "/campaigns/{id}/nominate",
            get(nomination_pages::nominate_form).post(nomination_pages::nominate_submit),
        )
        .route("/nominations/{id}", get(nomination_pages::show))
        .route("/nominations/{id}/{action}", post(nomination_pages::act))
        .route("/api/v1/campaigns", post(nominations::create_campaign))
        .route("/api/v1/campaigns/{id}", put(nominations::update_campaign))
        .route("/api/v1/campaigns/{id}/nominations", get(nominations::list))
        .route("/api/v1/nominations", post(nominations::submit))
        .route("/api/v1/nominations/{id}", get(nominations::show))
        .route(
            "/api/v1/nominations/{id}/{change}",
            post(nominations::change),
        )
        .route(
            "/api/v1/reviews/{task_id}/decision",
            post(nominations::decide),
        )
        .route(
            "/api/v1/reviews/{task_id}/reassign",
            post(nominations::reassign),
        )
        .route(
            "/api/v1/volunteers",
            get(tours::list_volunteers).post(tours::add_volunteer),
        )
        .route("/api/v1/volunteers/import", post(tours::import_volunteers))
        .route("/api/v1/tours", post(tours::create_tour))
        .route("/api/v1/tours/{id}", get(tours::show_tour))
        .route("/api/v1/tours/{id}/villages", put(tours::set_villages))
        .route("/api/v1/tours/{id}/plan", post(tours::plan_tour))
        .route("/api/v1/tours/{id}/publish", post(tours::publish_tour))
        .route("/api/v1/tours/{id}/removals", post(tours::remove))
        .route("/api/v1/tours/{id}/schedule", get(tours::schedule))
        .route("/api/v1/tours/{id}/schedule.ics", get(tours::schedule_ics))
        .merge(tour_pages::routes())
        .route("/static/jinguo.css", get(pages::stylesheet))
        .route(
            "/static/quick-exit.js",
            get(referral_pages::quick_exit_script),
        )
        .fallback(error::not_found)
        .with_state(state);
    // The edge wraps the whole router, so that it sees every request before routing and every
    // answer as it leaves (a 405's `Allow` included). Outermost last: `shape` sees every
    // answer; `guard` runs inside the body limit. Outside it, the public self-referral page's
    // policy adds its one script (the quick exit) to the edge's.
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn_with_state(
            body_limit,
            edge::guard,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(edge::shape))
        .layer(axum::middleware::from_fn(referral_pages::quick_exit_policy))
}

/// Serves until `shutdown` resolves, then stops accepting and lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
