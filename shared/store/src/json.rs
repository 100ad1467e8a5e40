//! Envelopes are stored as JSON text, identical on both backends.

use chrono::{DateTime, NaiveDateTime, Utc};
use jinguo_core::messaging::Envelope;

use crate::StoreError;

pub(crate) fn to_text(e: &Envelope) -> String {
    serde_json::to_string(e).expect("an envelope always serialises")
}

pub(crate) fn from_text(text: &str) -> Result<Envelope, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(format!("stored envelope: {e}")))
}

/// Timestamps are stored as UTC without a zone, the one type both backends share.
pub(crate) fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

pub(crate) fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}
