//! Rate limits: fixed windows per key (a minute, an hour, a day), in memory. Each process limits
//! on its own; behind several processes the effective limit is that many times higher, which
//! is acceptable for slowing down guessing and mail flooding.
//!
//! A refusal says how long until the window that refused starts over: the `Retry-After` of the
//! 429 answer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One limit: at most `max` counted events for `key` within `window`.
pub struct Limit {
    pub key: String,
    pub max: u32,
    pub window: Duration,
}

impl Limit {
    pub fn new(key: impl Into<String>, max: u32, window: Duration) -> Limit {
        Limit {
            key: key.into(),
            max,
            window,
        }
    }
}

pub const MINUTE: Duration = Duration::from_secs(60);
pub const HOUR: Duration = Duration::from_secs(3600);
pub const DAY: Duration = Duration::from_secs(24 * 3600);

/// Counts per key: (window start, count, window length).
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32, Duration)>>,
}

impl RateLimiter {
    pub fn new() -> RateLimiter {
        RateLimiter {
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event against every limit if all of them still allow it; otherwise counts
    /// nothing and answers the longest wait among those that refused.
    pub fn hit(&self, limits: &[Limit]) -> Result<(), Duration> {
        self.apply(limits, true, true)
    }

    /// Whether every limit still allows one more event, without counting it.
    pub fn check(&self, limits: &[Limit]) -> Result<(), Duration> {
        self.apply(limits, true, false)
    }

    /// Counts one event against every limit, whatever the counts are (after [`check`] allowed
    /// it and the event happened).
    ///
    /// [`check`]: RateLimiter::check
    pub fn record(&self, limits: &[Limit]) {
        let _ = self.apply(limits, false, true);
    }

    /// Counts one request for `key`; `false` once more than `limit` came within `window`.
    pub fn allow(&self, key: &str, limit: u32, window: Duration) -> bool {
        self.hit(&[Limit::new(key, limit, window)]).is_ok()
    }

    fn apply(&self, limits: &[Limit], enforce: bool, count: bool) -> Result<(), Duration> {
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("rate limiter lock");
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _, window)| now.duration_since(*start) < *window);
        }
        if enforce {
            let mut wait = None;
            for l in limits {
                let Some((start, n, _)) = windows.get(&l.key) else {
                    if l.max == 0 {
                        wait = wait.max(Some(l.window));
                    }
                    continue;
                };
                let elapsed = now.duration_since(*start);
                let used = if elapsed >= l.window { 0 } else { *n };
                if used >= l.max {
                    wait = wait.max(Some(l.window.saturating_sub(elapsed)));
                }
            }
            if let Some(wait) = wait {
                return Err(wait);
            }
        }
        if count {
            for l in limits {
                let entry = windows.entry(l.key.clone()).or_insert((now, 0, l.window));
                if now.duration_since(entry.0) >= l.window {
                    *entry = (now, 0, l.window);
                }
                entry.1 = entry.1.saturating_add(1);
            }
        }
        Ok(())
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new()
    }
}

/// `Retry-After` in whole seconds, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// "请 N 分钟后再试。" or "请 N 小时后再试。" for pages.
pub fn try_again_in(wait: Duration) -> String {
    let minutes = retry_after_secs(wait).div_ceil(60);
    if minutes > 90 {
        format!("请 {} 小时后再试。", minutes.div_ceil(60))
    } else {
        format!("请 {minutes} 分钟后再试。")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_within_a_window() {
        let l = RateLimiter::new();
        let w = Duration::from_secs(60);
        assert!(l.allow("ip:1", 2, w));
        assert!(l.allow("ip:1", 2, w));
        assert!(!l.allow("ip:1", 2, w));
        assert!(l.allow("ip:2", 2, w), "another key has its own window");
        assert!(l.allow("ip:3", 1, Duration::ZERO));
        assert!(
            l.allow("ip:3", 1, Duration::ZERO),
            "a window that has passed starts over"
        );
    }

    #[test]
    fn a_refused_hit_counts_nowhere_and_says_how_long_to_wait() {
        let l = RateLimiter::new();
        let pair = |n: &str| Limit::new(format!("pair:{n}"), 1, HOUR);
        let all = || Limit::new("all", 2, HOUR);
        assert!(l.hit(&[pair("a"), all()]).is_ok());
        let wait = l.hit(&[pair("a"), all()]).unwrap_err();
        assert!(wait > Duration::from_secs(3500) && wait <= HOUR, "{wait:?}");
        // The refused hit did not use up the shared ceiling.
        assert!(l.hit(&[pair("b"), all()]).is_ok());
        assert!(l.hit(&[pair("c"), all()]).is_err(), "ceiling reached");
    }

    #[test]
    fn check_does_not_count_and_record_does() {
        let l = RateLimiter::new();
        let limit = || [Limit::new("k", 1, DAY)];
        assert!(l.check(&limit()).is_ok());
        assert!(l.check(&limit()).is_ok());
        l.record(&limit());
        assert!(l.check(&limit()).is_err());
        assert!(l.check(&[Limit::new("zero", 0, MINUTE)]).is_err());
    }

    #[test]
    fn waits_are_said_in_whole_minutes_or_hours() {
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(try_again_in(Duration::from_secs(61)), "请 2 分钟后再试。");
        assert_eq!(
            try_again_in(Duration::from_secs(20 * 3600)),
            "请 20 小时后再试。"
        );
    }
}
