//! Messages between services, and the rules for what happens when handling one fails.
//!
//! An [`Envelope`] carries ids, never personal data. It is versioned: fields added later are
//! optional with defaults, so a message written by an older release still parses.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The envelope format this release writes. Readers accept this and every earlier version.
pub const ENVELOPE_VERSION: u32 = 1;

/// One message: what happened (`kind`, `payload`), when, and how it relates to others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(default = "first_version")]
    pub version: u32,
    /// Unique per message; the inbox deduplicates on it, so a redelivery keeps it.
    pub id: Uuid,
    /// Dotted name, also the routing key, e.g. `nomination.decided`.
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    /// The id of the first message of the chain this one belongs to.
    pub correlation_id: Uuid,
    /// The id of the message whose handling caused this one, if any.
    #[serde(default)]
    pub causation_id: Option<Uuid>,
    /// 1 on first delivery, one more on each retry.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    /// Ids and facts, never personal data.
    #[serde(default)]
    pub payload: serde_json::Value,
    /// Why earlier attempts failed, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Failure>,
}

fn first_version() -> u32 {
    1
}

fn first_attempt() -> u32 {
    1
}

/// One failed attempt, kept with the message so a dead letter shows its whole history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub attempt: u32,
    pub consumer: String,
    pub error: String,
    pub at: DateTime<Utc>,
}

impl Envelope {
    /// A new message that starts a chain.
    pub fn new(
        kind: impl Into<String>,
        payload: serde_json::Value,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Envelope {
        Envelope {
            version: ENVELOPE_VERSION,
            id,
            kind: kind.into(),
            occurred_at: now,
            correlation_id: id,
            causation_id: None,
            attempt: 1,
            payload,
            failures: Vec::new(),
        }
    }

    /// A new message caused by handling `self`: same correlation, `self` as cause.
    pub fn caused(
        &self,
        kind: impl Into<String>,
        payload: serde_json::Value,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Envelope {
        Envelope {
            correlation_id: self.correlation_id,
            causation_id: Some(self.id),
            ..Envelope::new(kind, payload, id, now)
        }
    }

    /// The same message with this attempt's failure added to its history.
    pub fn with_failure(&self, consumer: &str, error: &str, now: DateTime<Utc>) -> Envelope {
        let mut next = self.clone();
        next.failures.push(Failure {
            attempt: self.attempt,
            consumer: consumer.to_owned(),
            error: error.to_owned(),
            at: now,
        });
        next
    }

    /// The same message for its next attempt, remembering why this one failed.
    pub fn retried(&self, consumer: &str, error: &str, now: DateTime<Utc>) -> Envelope {
        let mut next = self.with_failure(consumer, error, now);
        next.attempt += 1;
        next
    }
}

/// How often and how late a failed message is tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait before attempt 2, 3, …; attempts = delays + 1.
    pub delays: Vec<Duration>,
}

/// What to do with a message whose handling failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryIn(Duration),
    Dead,
}

impl RetryPolicy {
    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32 + 1
    }

    /// `attempt` just failed; `permanent` failures (the message can never succeed) go
    /// straight to the dead letters.
    pub fn after_failure(&self, attempt: u32, permanent: bool) -> AfterFailure {
        if permanent {
            return AfterFailure::Dead;
        }
        match self.delays.get(attempt.saturating_sub(1) as usize) {
            Some(delay) => AfterFailure::RetryIn(*delay),
            None => AfterFailure::Dead,
        }
    }
}

/// The longest duration [`parse_duration`] accepts: ten years of 366 days. Generous for every
/// use (retry delays, link lifetimes, 公示 lengths, which have their own tighter bounds in
/// [`crate::rules`]), and far from where adding it to a timestamp could overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 366 * 86_400);

/// Parses durations such as `250ms`, `1s`, `10m`, `2h`, `7d`: ASCII digits then a unit, at most
/// [`MAX_DURATION`]. Never panics and never wraps: a number too large for the ceiling (however
/// many digits) is refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (n, unit_ms) = split_duration(s)
        .ok_or_else(|| format!("{s:?} is not a duration like 1s or 10m (units: ms, s, m, h, d)"))?;
    n.checked_mul(unit_ms)
        .map(Duration::from_millis)
        .filter(|d| *d <= MAX_DURATION)
        .ok_or_else(|| format!("{s:?} is longer than the ceiling of 10 years (3660d)"))
}

/// `"<digits><unit>"` as (the number, saturated at `u64::MAX`; milliseconds per unit), `None`
/// unless it has that shape. Shared with the bounded lengths of [`crate::rules`].
pub(crate) fn split_duration(s: &str) -> Option<(u64, u64)> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    Some((saturating_number(number)?, unit_ms))
}

/// A non-empty run of ASCII digits as a number, saturated at `u64::MAX`.
pub(crate) fn saturating_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// AMQP topic matching: words split on `.`, `*` is exactly one word, `#` zero or more.
/// The in-process bus routes with it exactly as RabbitMQ's topic exchange does.
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    fn go(p: &[&str], k: &[&str]) -> bool {
        match (p.first(), k.first()) {
            (None, None) => true,
            (Some(&"#"), _) => go(&p[1..], k) || (!k.is_empty() && go(p, &k[1..])),
            (Some(&"*"), Some(_)) => go(&p[1..], &k[1..]),
            (Some(w), Some(v)) if w == v => go(&p[1..], &k[1..]),
            _ => false,
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = key.split('.').collect();
    go(&p, &k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn an_envelope_from_an_older_release_still_parses() {
        // Version 1 as first written: no version, attempt, causation or failures fields.
        let old = r#"{"id":"6f1c2c1e-1d51-4c7c-9a55-1b1d7e0f0a01","kind":"nomination.decided",
            "occurred_at":"2026-01-01T00:00:00Z","correlation_id":"6f1c2c1e-1d51-4c7c-9a55-1b1d7e0f0a01",
            "payload":{"nomination_id":7}}"#;
        let e: Envelope = serde_json::from_str(old).unwrap();
        assert_eq!((e.version, e.attempt, e.causation_id), (1, 1, None));
        assert!(e.failures.is_empty());
        assert_eq!(e.payload["nomination_id"], 7);
    }

    #[test]
    fn caused_messages_keep_the_correlation() {
        let first = Envelope::new("a.b", serde_json::json!({}), Uuid::from_u128(1), at());
        let next = first.caused("c.d", serde_json::json!({}), Uuid::from_u128(2), at());
        assert_eq!(next.correlation_id, first.id);
        assert_eq!(next.causation_id, Some(first.id));
    }

    #[test]
    fn retries_follow_the_delays_then_die() {
        let p = RetryPolicy {
            delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(10),
                Duration::from_secs(60),
            ],
        };
        assert_eq!(p.max_attempts(), 4);
        assert_eq!(
            p.after_failure(1, false),
            AfterFailure::RetryIn(Duration::from_secs(1))
        );
        assert_eq!(
            p.after_failure(3, false),
            AfterFailure::RetryIn(Duration::from_secs(60))
        );
        assert_eq!(p.after_failure(4, false), AfterFailure::Dead);
        assert_eq!(p.after_failure(1, true), AfterFailure::Dead);
    }

    #[test]
    fn retried_envelope_records_the_failure() {
        let e = Envelope::new("a.b", serde_json::json!({}), Uuid::from_u128(1), at());
        let r = e.retried("mailer", "smtp 451", at());
        assert_eq!((r.id, r.attempt), (e.id, 2));
        assert_eq!(r.failures[0].error, "smtp 451");
        assert_eq!(r.failures[0].attempt, 1);
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("10y").is_err());
    }

    #[test]
    fn durations_past_the_ceiling_are_refused_not_wrapped() {
        assert_eq!(parse_duration("3660d"), Ok(MAX_DURATION));
        assert!(parse_duration("3661d").is_err());
        assert!(parse_duration("9999999999d").is_err());
        // 213503982334602 days of milliseconds wraps u64 to about 17 hours.
        assert!(parse_duration("213503982334602d").is_err());
        assert!(parse_duration(&format!("{}ms", u64::MAX)).is_err());
        assert!(parse_duration("99999999999999999999999999s").is_err());
        for bad in ["", "d", "-1d", "+1d", "1.5h", "１d", "1 d", "1D", "1dd"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn parse_duration_never_panics_and_stays_under_the_ceiling(s in any::<String>()) {
            if let Ok(d) = parse_duration(&s) {
                prop_assert!(d <= MAX_DURATION);
            }
        }

        #[test]
        fn parse_duration_handles_any_number_with_any_unit(
            n in any::<u64>(),
            extra in "[0-9]{0,30}",
            unit in prop_oneof![Just("ms"), Just("s"), Just("m"), Just("h"), Just("d")],
        ) {
            if let Ok(d) = parse_duration(&format!("{n}{extra}{unit}")) {
                prop_assert!(d <= MAX_DURATION);
            }
        }
    }

    #[test]
    fn topic_patterns_match_like_rabbitmq() {
        assert!(topic_matches("nomination.decided", "nomination.decided"));
        assert!(topic_matches("nomination.*", "nomination.decided"));
        assert!(!topic_matches("nomination.*", "nomination.review.decided"));
        assert!(topic_matches("nomination.#", "nomination.review.decided"));
        assert!(topic_matches("#", "anything.at.all"));
        assert!(topic_matches("#.decided", "nomination.decided"));
        assert!(!topic_matches("referral.*", "nomination.decided"));
    }

    proptest! {
        #[test]
        fn hash_matches_every_key_and_exact_pattern_matches_itself(words in proptest::collection::vec("[a-z]{1,5}", 1..5)) {
            let key = words.join(".");
            prop_assert!(topic_matches("#", &key));
            prop_assert!(topic_matches(&key, &key));
            let stars = vec!["*"; words.len()].join(".");
            prop_assert!(topic_matches(&stars, &key));
        }
    }
}
