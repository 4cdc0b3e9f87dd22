//! When things start: pure functions of elapsed time, unit-tested without a clock.

use std::time::Duration;

use crate::shard::Shard;

/// When user `index` (0-based, in start order) starts, for `spawn_rate` users per second.
/// User 0 starts at once, user `n` after `n / spawn_rate` seconds (Locust's ramp).
pub fn spawn_offset(index: u64, spawn_rate: f64) -> Duration {
    if !(spawn_rate.is_finite() && spawn_rate > 0.0) {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(index as f64 / spawn_rate)
}

/// The global user numbers a worker of a shard owns: the shard's users (`u % count == index`)
/// dealt round-robin over its workers. Numbers are global, so they never collide across shards.
pub fn worker_users(
    worker: usize,
    workers: usize,
    shard: Shard,
    users: u32,
) -> impl Iterator<Item = u64> {
    let first = u64::from(shard.index) + u64::from(shard.count) * worker as u64;
    let step = u64::from(shard.count.max(1)) * workers.max(1) as u64;
    (first..u64::from(users)).step_by(step as usize)
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
        let whole = Shard::default();
        let a: Vec<u64> = worker_users(0, 3, whole, 8).collect();
        let b: Vec<u64> = worker_users(1, 3, whole, 8).collect();
        let c: Vec<u64> = worker_users(2, 3, whole, 8).collect();
        assert_eq!(a, [0, 3, 6]);
        assert_eq!(b, [1, 4, 7]);
        assert_eq!(c, [2, 5]);
        assert_eq!(worker_users(0, 1, whole, 0).count(), 0);
    }

    #[test]
    fn shards_and_workers_partition_users_exactly_once() {
        let users = 101;
        let mut seen = vec![0u32; users as usize];
        for index in 0..3 {
            let shard = Shard { index, count: 3 };
            let mut n = 0;
            for w in 0..2 {
                for u in worker_users(w, 2, shard, users) {
                    assert_eq!(u % 3, u64::from(index));
                    seen[u as usize] += 1;
                    n += 1;
                }
            }
            assert_eq!(n, shard.users(users));
        }
        assert!(seen.iter().all(|&c| c == 1));
    }
}
