//! Cron ticks fired, one row each: the unique (job, tick) key makes a tick fire once however
//! many schedulers run.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::json::{naive, utc};
use crate::schema::cron_ticks;
use crate::{Conn, StoreError, on_backend};

/// Claims `tick` of `job`; `false` when another scheduler already did.
pub async fn claim(
    conn: &mut Conn<'_>,
    job: &str,
    tick: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let insert = diesel::insert_into(cron_ticks::table)
        .values((
            cron_ticks::job.eq(job),
            cron_ticks::tick.eq(naive(tick)),
            cron_ticks::fired_at.eq(naive(now)),
        ))
        .on_conflict_do_nothing();
    Ok(on_backend!(conn, |c| insert.execute(c).await)? == 1)
}

/// The latest tick of `job` ever fired.
pub async fn last(conn: &mut Conn<'_>, job: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let query = cron_ticks::table
        .filter(cron_ticks::job.eq(job.to_owned()))
        .select(diesel::dsl::max(cron_ticks::tick));
    let latest: Option<chrono::NaiveDateTime> = on_backend!(conn, |c| query.first(c).await)?;
    Ok(latest.map(utc))
}

/// Every tick of `job` fired, oldest first.
pub async fn fired(conn: &mut Conn<'_>, job: &str) -> Result<Vec<DateTime<Utc>>, StoreError> {
    let query = cron_ticks::table
        .filter(cron_ticks::job.eq(job.to_owned()))
        .order(cron_ticks::tick)
        .select(cron_ticks::tick);
    let ticks: Vec<chrono::NaiveDateTime> = on_backend!(conn, |c| query.load(c).await)?;
    Ok(ticks.into_iter().map(utc).collect())
}
