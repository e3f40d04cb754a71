//! Failed logins per client address: after `limit` failures within `window`, the client is
//! refused (429) until the oldest of them leaves the window. Memory is bounded: past
//! `max_clients` addresses, the one whose last failure is oldest is forgotten.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses tracked at most: about 300 bytes each with the default limit.
pub const MAX_CLIENTS: usize = 16_384;

#[derive(Debug)]
pub struct FailureLimiter {
    limit: usize,
    window: Duration,
    max_clients: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    clients: HashMap<IpAddr, Failures>,
    /// Every tracked address by the time of its last failure (with a sequence number to keep
    /// keys unique): the first is the one to forget.
    by_last_failure: BTreeMap<(Instant, u64), IpAddr>,
    sequence: u64,
}

#[derive(Debug)]
struct Failures {
    /// The most recent failures, oldest first; at most `limit`.
    times: VecDeque<Instant>,
    /// This client's key in `by_last_failure`.
    order: (Instant, u64),
}

impl FailureLimiter {
    /// `limit` 0 disables the limiter.
    pub fn new(limit: u32, window: Duration, max_clients: usize) -> FailureLimiter {
        FailureLimiter {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            window,
            max_clients: max_clients.max(1),
            table: Mutex::new(Table::default()),
        }
    }

    /// `Some(wait)` when `client` has used up its failures: the time until the oldest leaves the
    /// window.
    pub fn blocked(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let table = lock(&self.table);
        let failures = table.clients.get(&client)?;
        let recent = failures.times.iter().filter(|&&at| now.saturating_duration_since(at) < self.window).count();
        if recent < self.limit {
            return None;
        }
        let oldest = *failures.times.front()?;
        Some((oldest + self.window).saturating_duration_since(now))
    }

    /// Counts a failed login from `client`.
    pub fn record_failure(&self, client: IpAddr, now: Instant) {
        if self.limit == 0 {
            return;
        }
        let mut guard = lock(&self.table);
        let table = &mut *guard;
        table.sequence += 1;
        let order = (now, table.sequence);
        if let Some(failures) = table.clients.get_mut(&client) {
            table.by_last_failure.remove(&failures.order);
            failures.order = order;
            while failures.times.front().is_some_and(|&at| now.saturating_duration_since(at) >= self.window) {
                failures.times.pop_front();
            }
            if failures.times.len() >= self.limit {
                failures.times.pop_front();
            }
            failures.times.push_back(now);
            table.by_last_failure.insert(order, client);
            return;
        }
        // Forget clients whose failures have all left the window, then the oldest if still full.
        while let Some((&(last, sequence), _)) = table.by_last_failure.first_key_value() {
            let expired = now.saturating_duration_since(last) >= self.window;
            if !expired && table.clients.len() < self.max_clients {
                break;
            }
            if let Some(forgotten) = table.by_last_failure.remove(&(last, sequence)) {
                table.clients.remove(&forgotten);
            }
        }
        let mut times = VecDeque::with_capacity(self.limit.min(16));
        times.push_back(now);
        table.clients.insert(client, Failures { times, order });
        table.by_last_failure.insert(order, client);
    }

    /// Addresses currently tracked.
    pub fn tracked(&self) -> usize {
        lock(&self.table).clients.len()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, last])
    }

    #[test]
    fn blocks_after_the_limit_until_the_window_frees() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60), 100);
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        limiter.record_failure(ip(1), at(0));
        limiter.record_failure(ip(1), at(10));
        assert_eq!(limiter.blocked(ip(1), at(10)), None);
        limiter.record_failure(ip(1), at(20));
        // The first failure leaves the window at 60 s.
        assert_eq!(limiter.blocked(ip(1), at(20)), Some(Duration::from_secs(40)));
        assert_eq!(limiter.blocked(ip(1), at(59)), Some(Duration::from_secs(1)));
        assert_eq!(limiter.blocked(ip(1), at(60)), None);
        // Others are not affected.
        assert_eq!(limiter.blocked(ip(2), at(20)), None);
        // One more failure once free blocks again, until the second one expires (70 s).
        limiter.record_failure(ip(1), at(61));
        assert_eq!(limiter.blocked(ip(1), at(61)), Some(Duration::from_secs(9)));
    }

    #[test]
    fn a_zero_limit_never_blocks() {
        let limiter = FailureLimiter::new(0, Duration::from_secs(60), 100);
        let now = Instant::now();
        for _ in 0..100 {
            limiter.record_failure(ip(1), now);
        }
        assert_eq!(limiter.blocked(ip(1), now), None);
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_is_forgotten() {
        let limiter = FailureLimiter::new(2, Duration::from_secs(600), 3);
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        for (i, last) in [1, 2, 3].into_iter().enumerate() {
            limiter.record_failure(ip(last), at(i as u64));
            limiter.record_failure(ip(last), at(i as u64));
        }
        assert_eq!(limiter.tracked(), 3);
        assert!(limiter.blocked(ip(1), at(5)).is_some());
        // Client 1 fails again: now client 2 is the oldest and is forgotten for client 4.
        limiter.record_failure(ip(1), at(6));
        limiter.record_failure(ip(4), at(7));
        assert_eq!(limiter.tracked(), 3);
        assert!(limiter.blocked(ip(2), at(8)).is_none());
        assert!(limiter.blocked(ip(1), at(8)).is_some());
        assert!(limiter.blocked(ip(3), at(8)).is_some());
        // Expired clients go first, without waiting for the table to fill.
        limiter.record_failure(ip(5), at(10_000));
        assert_eq!(limiter.tracked(), 1);
    }
}
