//! Jinguo's domain core: types and decisions with no I/O.
//!
//! Nothing here touches a database, a broker, the network or the clock; callers pass
//! in what a decision needs. That keeps every rule testable without set-up.

pub mod auth;
pub mod calendar;
pub mod cron;
pub mod identity;
pub mod messaging;
pub mod nominations;
pub mod notify;
pub mod org;
pub mod org_file;
pub mod rules;
pub mod text;
