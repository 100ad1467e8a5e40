//! Key rotation: every sealed value of every place in [`jinguo_store::sealed::PLACES`] re-sealed
//! with the current key, so that an old key can be removed from configuration.
//!
//! Guarantees:
//! - Work is done in batches, each its own transaction: an interrupted run keeps what its
//!   committed batches did, and the next run continues where it stopped (values already under
//!   the current key are not read again).
//! - A value is replaced only if its row still holds what was read; a row a concurrent writer
//!   changed is left alone and counted, never overwritten.
//! - A value that does not open with any configured key stops the run with an error naming
//!   the place and the row id, never the value. The batch it was in is rolled back; batches
//!   before it stay committed.

use std::num::NonZeroU32;
use std::sync::Arc;

use jinguo_store::sealed::{self, KeyCount, PLACES, Place};
use jinguo_store::{Store, StoreError};

use crate::seal::{SealError, Sealer};

/// What a rotation did to one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resealed {
    pub place: Place,
    /// Values now sealed under the current key.
    pub resealed: u64,
    /// Values changed by someone else between reading and replacing them: left as they were
    /// (run again to cover them if they are still under an old key).
    pub changed_meanwhile: u64,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The key every re-sealed value is now under.
    pub key_id: String,
    /// Per place, in registry order; places not reached (run stopped by `max_batches`) are
    /// absent.
    pub places: Vec<Resealed>,
    /// False when the run stopped at `max_batches` with work possibly left: run it again.
    pub finished: bool,
}

/// Why a rotation stopped.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// A stored value that does not open: sealed under a key that is not configured, altered,
    /// copied from another row, or not a sealed value at all.
    #[error("{place} of row {id} does not open with the configured keys")]
    DoesNotOpen {
        place: Place,
        id: String,
        #[source]
        cause: SealError,
    },
    #[error("re-sealing {place}")]
    Store {
        place: Place,
        #[source]
        cause: StoreError,
    },
}

/// Re-seals every value not under `sealer`'s current key, `batch` rows per transaction.
/// `max_batches` stops the run after that many batches (the rest is left for the next run).
pub async fn rotate(
    store: &Store,
    sealer: Arc<Sealer>,
    batch: NonZeroU32,
    max_batches: Option<u32>,
) -> Result<Rotation, RotateError> {
    let key_id = sealer.current_key_id().to_owned();
    let mut places = Vec::with_capacity(PLACES.len());
    let mut batches = 0u32;
    for place in PLACES {
        let mut done = Resealed {
            place: *place,
            resealed: 0,
            changed_meanwhile: 0,
        };
        let mut after: Option<String> = None;
        loop {
            if max_batches.is_some_and(|max| batches >= max) {
                places.push(done);
                return Ok(Rotation {
                    key_id,
                    places,
                    finished: false,
                });
            }
            let step = reseal_batch(store, sealer.clone(), *place, after.clone(), batch)
                .await
                .map_err(|failure| failure.at(*place))?;
            let Some(last) = step.last else { break };
            batches += 1;
            done.resealed += step.resealed;
            done.changed_meanwhile += step.changed_meanwhile;
            tracing::debug!(
                place = %place,
                resealed = step.resealed,
                changed_meanwhile = step.changed_meanwhile,
                key = %key_id,
                "sealed values re-sealed"
            );
            if step.read < u64::from(batch.get()) {
                break;
            }
            after = Some(last);
        }
        places.push(done);
    }
    Ok(Rotation {
        key_id,
        places,
        finished: true,
    })
}

/// Per place, how many values each key sealed (values in no sealed format under `None`).
pub async fn census(store: &Store) -> Result<Vec<(Place, Vec<KeyCount>)>, RotateError> {
    let mut out = Vec::with_capacity(PLACES.len());
    for place in PLACES {
        let counts = store
            .read(move |c| Box::pin(sealed::count_by_key(c, place)))
            .await
            .map_err(|cause| RotateError::Store {
                place: *place,
                cause,
            })?;
        out.push((*place, counts));
    }
    Ok(out)
}

/// One batch, as its transaction reports it.
struct Step {
    read: u64,
    resealed: u64,
    changed_meanwhile: u64,
    /// The id of the last row read; `None` when there was nothing left.
    last: Option<String>,
}

/// Why a batch failed, before the place is attached.
enum Failure {
    Store(StoreError),
    DoesNotOpen { id: String, cause: SealError },
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl Failure {
    fn at(self, place: Place) -> RotateError {
        match self {
            Failure::Store(cause) => RotateError::Store { place, cause },
            Failure::DoesNotOpen { id, cause } => RotateError::DoesNotOpen { place, id, cause },
        }
    }
}

async fn reseal_batch(
    store: &Store,
    sealer: Arc<Sealer>,
    place: Place,
    after: Option<String>,
    batch: NonZeroU32,
) -> Result<Step, Failure> {
    store
        .transaction(move |c| {
            Box::pin(async move {
                let key_id = sealer.current_key_id();
                let page =
                    sealed::not_under(c, &place, key_id, after.as_deref(), i64::from(batch.get()))
                        .await?;
                let mut step = Step {
                    read: page.len() as u64,
                    resealed: 0,
                    changed_meanwhile: 0,
                    last: page.last().map(|v| v.id.clone()),
                };
                for value in &page {
                    let associated = place.associated_data(&value.id);
                    let plain = sealer.open(&value.value, &associated).map_err(|cause| {
                        Failure::DoesNotOpen {
                            id: value.id.clone(),
                            cause,
                        }
                    })?;
                    let new = sealer.seal(&plain, &associated);
                    if sealed::replace(c, &place, value, &new).await? {
                        step.resealed += 1;
                    } else {
                        step.changed_meanwhile += 1;
                    }
                }
                Ok(step)
            })
        })
        .await
}
