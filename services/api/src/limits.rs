//! Rate limits: fixed one-minute (or one-hour) windows per key, in memory. Each process limits
//! on its own; behind several processes the effective limit is that many times higher, which
//! is acceptable for slowing down guessing and mail flooding.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new() -> RateLimiter {
        RateLimiter {
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request for `key`; `false` once more than `limit` came within `window`.
    pub fn allow(&self, key: &str, limit: u32, window: Duration) -> bool {
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("rate limiter lock");
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(3600));
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= limit
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new()
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
}
