//! Read models: what pages and the API may show of a nomination.

use jinguo_core::nominations::State;
use jinguo_store::nominations::{self as store};

use crate::eligibility::is_hidden_event;

/// The history as `reveal`-less eyes may see it: the eligibility hold's own events left out,
/// its state shown as village review.
pub fn visible_history(steps: Vec<store::Step>, reveal: bool) -> Vec<store::Step> {
    if reveal {
        return steps;
    }
    steps
        .into_iter()
        .filter(|h| !is_hidden_event(&h.event))
        .map(|mut h| {
            let public = |s: &str| {
                s.parse::<State>()
                    .map_or_else(|_| s.to_owned(), |st| st.public().to_string())
            };
            h.from = public(&h.from);
            h.to = public(&h.to);
            h
        })
        .collect()
}

/// Whether a nomination's current level has no active reviewer, as its history shows it (the
/// hold's own events do not count, so a held nomination stalls exactly like any other).
pub fn is_stalled(steps: &[store::Step]) -> bool {
    steps
        .iter()
        .rev()
        .find(|h| !is_hidden_event(&h.event))
        .is_some_and(|h| h.event == "no_reviewer")
}
