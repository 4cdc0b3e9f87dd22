//! The schedule, as pure functions of time: ramps of users or rates, and open-model arrival times.
//!
//! A `Ramp` is a piecewise-linear value over time (the stages). Open-model arrivals are placed in
//! "operational time" — arrival `k` at `k` (even) or at the sum of `k+1` unit exponential gaps
//! (Poisson) — and mapped to real time through the inverse of the ramp's integral: one function
//! serves constant rates, ramps, even and Poisson arrivals, and gives every flow its exact intended
//! start, which latency correction needs.

use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::plan::{Arrivals, Stage};

/// A piecewise-linear function of time (seconds), constant after its last point until `end`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp {
    /// (time, value) corners, times increasing, starting at time 0.
    points: Vec<(f64, f64)>,
    /// Nothing happens at or after this time (seconds); `f64::INFINITY` when unbounded.
    end: f64,
}

impl Ramp {
    /// A constant `value` until `end`.
    pub fn constant(value: f64, end: Option<Duration>) -> Ramp {
        Ramp {
            points: vec![(0.0, value)],
            end: end.map_or(f64::INFINITY, |d| d.as_secs_f64()),
        }
    }

    /// From `start`, linearly through each stage's target; ends at the end of the last stage
    /// or at `end`, whichever comes first.
    pub fn stages(start: f64, stages: &[Stage], end: Option<Duration>) -> Ramp {
        let mut points = vec![(0.0, start)];
        let mut t = 0.0;
        for s in stages {
            t += s.duration.as_secs_f64();
            points.push((t, s.target));
        }
        let stage_end = if stages.is_empty() { f64::INFINITY } else { t };
        Ramp {
            points,
            end: end.map_or(stage_end, |d| d.as_secs_f64().min(stage_end)),
        }
    }

    pub fn end(&self) -> f64 {
        self.end
    }

    /// The same ramp with every value multiplied by `factor` (a user's share of a rate).
    pub fn scaled(&self, factor: f64) -> Ramp {
        Ramp {
            points: self.points.iter().map(|(t, v)| (*t, v * factor)).collect(),
            end: self.end,
        }
    }

    /// The value at time `t` (seconds).
    pub fn value_at(&self, t: f64) -> f64 {
        if t >= self.end {
            return 0.0;
        }
        for w in self.points.windows(2) {
            let ((t0, v0), (t1, v1)) = (w[0], w[1]);
            if t < t1 {
                return if t1 > t0 {
                    v0 + (v1 - v0) * (t - t0) / (t1 - t0)
                } else {
                    v1
                };
            }
        }
        self.points.last().map_or(0.0, |p| p.1)
    }

    /// The segments as (t0, v0, t1, v1), the last one extended to `end`.
    fn segments(&self) -> impl Iterator<Item = (f64, f64, f64, f64)> + '_ {
        let last = self.points.last().copied().unwrap_or((0.0, 0.0));
        self.points
            .windows(2)
            .map(|w| (w[0].0, w[0].1, w[1].0, w[1].1))
            .chain(std::iter::once((last.0, last.1, f64::INFINITY, last.1)))
            .filter(move |s| s.0 < self.end)
            .map(move |(t0, v0, t1, v1)| {
                if t1 > self.end {
                    let v_end = if t1.is_finite() {
                        v0 + (v1 - v0) * (self.end - t0) / (t1 - t0)
                    } else {
                        v0
                    };
                    (t0, v0, self.end, v_end)
                } else {
                    (t0, v0, t1, v1)
                }
            })
    }

    /// The time at which the integral of the ramp from 0 reaches `x`; `None` if it never does
    /// before the end. (For a rate ramp: when arrival number `x` is due.)
    pub fn time_for_integral(&self, x: f64) -> Option<f64> {
        let mut acc = 0.0;
        for (t0, v0, t1, v1) in self.segments() {
            let span = t1 - t0;
            let area = if span.is_finite() {
                (v0 + v1) / 2.0 * span
            } else if v0 > 0.0 {
                f64::INFINITY
            } else {
                0.0
            };
            if acc + area >= x && area > 0.0 {
                let need = x - acc;
                // Solve v0·τ + (v1 − v0)/(2·span)·τ² = need for τ in [0, span].
                let a = if span.is_finite() {
                    (v1 - v0) / (2.0 * span)
                } else {
                    0.0
                };
                let tau = if a.abs() < 1e-12 {
                    need / v0
                } else {
                    let disc = (v0 * v0 + 4.0 * a * need).max(0.0);
                    (-v0 + disc.sqrt()) / (2.0 * a)
                };
                let t = t0
                    + tau.clamp(
                        0.0,
                        if span.is_finite() {
                            span
                        } else {
                            f64::INFINITY
                        },
                    );
                return (t < self.end).then_some(t);
            }
            acc += area;
        }
        None
    }

    /// The first time ≥ `from` at which the value exceeds `level` (closed model: when user number
    /// `level` becomes active); `None` if it never does before the end.
    pub fn next_time_above(&self, level: f64, from: f64) -> Option<f64> {
        if self.value_at(from) > level && from < self.end {
            return Some(from);
        }
        for (t0, v0, t1, v1) in self.segments() {
            if t1 <= from {
                continue;
            }
            if v1 > level && v1 != v0 {
                // Linear crossing inside the segment (strictly above just after it).
                let cross = t0 + (level - v0) / (v1 - v0) * (t1 - t0);
                let t = cross.max(from).max(t0);
                if t < t1 && t < self.end {
                    return Some(t + 1e-9);
                }
            } else if v0 > level && v1 > level {
                return Some(from.max(t0));
            }
        }
        None
    }
}

/// Open-model arrival times (seconds from the start), in order, for one ramp of rates.
pub struct ArrivalTimes {
    ramp: Ramp,
    k: u64,
    rng: Option<rand::rngs::SmallRng>,
    x: f64,
    /// Even arrivals: operational time of the first one.
    offset: f64,
}

impl ArrivalTimes {
    pub fn new(ramp: Ramp, arrivals: Arrivals) -> Self {
        let rng = match arrivals {
            Arrivals::Even => None,
            Arrivals::Poisson { seed } => Some(rand::rngs::SmallRng::seed_from_u64(seed)),
        };
        ArrivalTimes {
            ramp,
            k: 0,
            rng,
            x: 0.0,
            offset: 0.0,
        }
    }

    /// The arrivals of user `user` of `users`: the global arrivals `k` with `k % users == user`
    /// (even), or an independent Poisson stream at `1/users` of the rate — the users' streams
    /// together make the whole schedule.
    pub fn for_user(ramp: &Ramp, arrivals: Arrivals, user: u64, users: u64) -> Self {
        let users = users.max(1);
        let ramp = ramp.scaled(1.0 / users as f64);
        match arrivals {
            Arrivals::Even => ArrivalTimes {
                offset: (user % users) as f64 / users as f64,
                ..ArrivalTimes::new(ramp, Arrivals::Even)
            },
            Arrivals::Poisson { seed } => {
                let seed = seed ^ user.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                ArrivalTimes::new(ramp, Arrivals::Poisson { seed })
            }
        }
    }
}

impl Iterator for ArrivalTimes {
    /// (arrival number, intended start in seconds)
    type Item = (u64, f64);
    fn next(&mut self) -> Option<(u64, f64)> {
        let x = match &mut self.rng {
            // Even: arrival k at operational time k (the first at once).
            None => self.offset + self.k as f64,
            // Poisson: unit exponential gaps in operational time.
            Some(rng) => {
                let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
                self.x += -u.ln();
                self.x
            }
        };
        let t = if x == 0.0 && self.ramp.value_at(0.0) > 0.0 {
            0.0
        } else {
            self.ramp.time_for_integral(x)?
        };
        let k = self.k;
        self.k += 1;
        Some((k, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(secs: f64, target: f64) -> Stage {
        Stage {
            duration: Duration::from_secs_f64(secs),
            target,
        }
    }

    #[test]
    fn constant_rate_is_evenly_spaced_and_ends() {
        let times: Vec<f64> = ArrivalTimes::new(
            Ramp::constant(4.0, Some(Duration::from_secs(2))),
            Arrivals::Even,
        )
        .map(|(_, t)| t)
        .collect();
        assert_eq!(times.len(), 8);
        for (k, t) in times.iter().enumerate() {
            assert!((t - k as f64 * 0.25).abs() < 1e-9, "{k}: {t}");
        }
    }

    #[test]
    fn ramped_rate_integrates_exactly() {
        // 0 → 10 flows/s over 10 s: 50 arrivals; arrival x at t = sqrt(2x).
        let ramp = Ramp::stages(0.0, &[stage(10.0, 10.0)], None);
        let times: Vec<f64> = ArrivalTimes::new(ramp, Arrivals::Even)
            .map(|(_, t)| t)
            .collect();
        assert_eq!(times.len(), 50, "{times:?}");
        assert!((times[8] - 4.0).abs() < 1e-9, "{}", times[8]);
        assert!(times.windows(2).all(|w| w[1] > w[0]));
    }

    #[test]
    fn stages_hold_and_ramp_down() {
        let ramp = Ramp::stages(
            0.0,
            &[stage(10.0, 100.0), stage(20.0, 100.0), stage(10.0, 0.0)],
            None,
        );
        assert_eq!(ramp.value_at(5.0), 50.0);
        assert_eq!(ramp.value_at(20.0), 100.0);
        assert_eq!(ramp.value_at(35.0), 50.0);
        assert_eq!(ramp.value_at(40.0), 0.0);
        assert_eq!(ramp.end(), 40.0);
        // User 49 becomes active once the ramp passes 49 users: at 4.9 s.
        let t = ramp.next_time_above(49.0, 0.0).unwrap();
        assert!((t - 4.9).abs() < 1e-6, "{t}");
        // User 0 is active from the start... of the ramp (just after 0).
        assert!(ramp.next_time_above(0.0, 0.0).unwrap() < 1e-6);
        // After the ramp-down passes below user 60 (at 34 s), it never comes back.
        assert_eq!(ramp.next_time_above(60.0, 34.5), None);
        assert_eq!(ramp.next_time_above(60.0, 20.0), Some(20.0));
    }

    #[test]
    fn poisson_arrivals_are_seeded_and_average_the_rate() {
        let ramp = Ramp::constant(200.0, Some(Duration::from_secs(100)));
        let a: Vec<f64> = ArrivalTimes::new(ramp.clone(), Arrivals::Poisson { seed: 42 })
            .map(|(_, t)| t)
            .collect();
        let b: Vec<f64> = ArrivalTimes::new(ramp, Arrivals::Poisson { seed: 42 })
            .map(|(_, t)| t)
            .collect();
        assert_eq!(a, b, "same seed, same arrivals");
        let n = a.len() as f64;
        assert!(
            (n - 20_000.0).abs() < 600.0,
            "{n} arrivals in 100 s at 200/s"
        );
        // Exponential gaps: the coefficient of variation is about 1 (even spacing has 0).
        let gaps: Vec<f64> = a.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((cv - 1.0).abs() < 0.05, "cv {cv}");
    }

    #[test]
    fn users_even_schedules_interleave_into_the_global_one() {
        let ramp = Ramp::stages(0.0, &[stage(10.0, 50.0)], None);
        let global: Vec<f64> = ArrivalTimes::new(ramp.clone(), Arrivals::Even)
            .map(|(_, t)| t)
            .collect();
        let mut merged: Vec<f64> = (0..7)
            .flat_map(|u| ArrivalTimes::for_user(&ramp, Arrivals::Even, u, 7).map(|(_, t)| t))
            .collect();
        merged.sort_by(f64::total_cmp);
        assert_eq!(merged.len(), global.len());
        for (a, b) in merged.iter().zip(&global) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn users_poisson_streams_sum_to_the_rate() {
        let ramp = Ramp::constant(200.0, Some(Duration::from_secs(50)));
        let n: usize = (0..10)
            .map(|u| ArrivalTimes::for_user(&ramp, Arrivals::Poisson { seed: 3 }, u, 10).count())
            .sum();
        assert!((n as f64 - 10_000.0).abs() < 400.0, "{n}");
    }

    #[test]
    fn unbounded_constant_rate_goes_on() {
        let mut it = ArrivalTimes::new(Ramp::constant(1000.0, None), Arrivals::Even);
        assert_eq!(
            it.nth(1_000_000).map(|(_, t)| (t * 1000.0).round()),
            Some(1_000_000.0)
        );
    }
}
