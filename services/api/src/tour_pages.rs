//! The coordinator's pages of lecture tours (巡回宣讲) and volunteers (巾帼志愿者).

use axum::Router;

use crate::AppState;

/// The routes of the tour pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}
