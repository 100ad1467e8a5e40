//! How much database work this process did: statements sent and transactions committed, counted
//! by diesel's instrumentation on every connection the process opens. `jinguo-bench workflow`
//! divides them by the transitions it drove (docs/performance.md); each long-running process logs
//! them when it stops.

use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};

static STATEMENTS: AtomicU64 = AtomicU64::new(0);
static COMMITS: AtomicU64 = AtomicU64::new(0);

/// Statements (including `BEGIN` and `COMMIT`) and top-level commits so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseWork {
    pub statements: u64,
    pub commits: u64,
}

/// Counts the work of every connection opened from now on. Connections opened before are not
/// counted, so the store installs it before its pool opens the first one.
pub(crate) fn count_from_now_on() {
    // Only fails if the lock was poisoned, and then counting is not worth a failure.
    let _ = set_default_instrumentation(counting);
}

fn counting() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(|event: InstrumentationEvent<'_>| match event {
        InstrumentationEvent::FinishQuery { .. } => {
            STATEMENTS.fetch_add(1, Ordering::Relaxed);
        }
        // A savepoint's release is no commit.
        InstrumentationEvent::CommitTransaction { depth, .. } if depth.get() == 1 => {
            COMMITS.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }))
}

/// The work counted so far in this process.
pub fn database_work() -> DatabaseWork {
    DatabaseWork {
        statements: STATEMENTS.load(Ordering::Relaxed),
        commits: COMMITS.load(Ordering::Relaxed),
    }
}
