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
pub mod referrals;
pub mod rules;
pub mod text;

/// `error: cause: cause…` on one line: how every log line and dead letter names a failure.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    chain
}
