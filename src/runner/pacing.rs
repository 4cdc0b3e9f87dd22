//! When things start: pure functions of elapsed time, unit-tested without a clock.

use std::time::Duration;

/// When user `index` (0-based, in start order) starts, for `spawn_rate` users per second.
/// User 0 starts at once, user `n` after `n / spawn_rate` seconds (Locust's ramp).
pub fn spawn_offset(index: u64, spawn_rate: f64) -> Duration {
    if !(spawn_rate.is_finite() && spawn_rate > 0.0) {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(index as f64 / spawn_rate)
}

/// The user numbers a worker owns: `worker`, `worker + workers`, ... below `users`.
pub fn worker_users(worker: usize, workers: usize, users: u32) -> impl Iterator<Item = u64> {
    (worker as u64..u64::from(users)).step_by(workers.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_is_even() {
        assert_eq!(spawn_offset(0, 10.0), Duration::ZERO);
        assert_eq!(spawn_offset(10, 10.0), Duration::from_secs(1));
        assert_eq!(spawn_offset(150, 10.0), Duration::from_secs(15));
        assert_eq!(spawn_offset(3, 2.0), Duration::from_millis(1500));
        assert_eq!(spawn_offset(5, 0.0), Duration::ZERO);
    }

    #[test]
    fn workers_partition_users() {
        let a: Vec<u64> = worker_users(0, 3, 8).collect();
        let b: Vec<u64> = worker_users(1, 3, 8).collect();
        let c: Vec<u64> = worker_users(2, 3, 8).collect();
        assert_eq!(a, [0, 3, 6]);
        assert_eq!(b, [1, 4, 7]);
        assert_eq!(c, [2, 5]);
        assert_eq!(worker_users(0, 1, 0).count(), 0);
    }
}
