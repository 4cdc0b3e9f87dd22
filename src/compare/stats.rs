//! The statistics of `compare`: confidence intervals of quantiles (from HDR histograms), of
//! error rates and of throughputs, and the verdict of one row from two of them.
//!
//! Design choice: distribution-free intervals, since latencies are anything but normal. For a
//! quantile q of n samples, the k-th smallest sample is below the true quantile with probability
//! Binomial(n, q)(< k); by the normal approximation the ranks n·q ∓ z·√(n·q·(1−q)) bracket it at
//! the confidence whose two-sided normal quantile is z, and the histogram maps those ranks to
//! values (widened to the edges of their HDR buckets, so the histogram's own resolution is inside
//! the interval). An error rate is judged by the two-proportion z-test (pooled) and shown with
//! its Wilson interval; a throughput is a Poisson count over the run time (square-root
//! approximation of the exact interval). All of it assumes independent samples: a run's
//! latencies are not quite that (a slow second slows many flows), which is one more reason for
//! the tolerances on top.

use hdrhistogram::Histogram;

use super::{Interval, RowVerdict};

/// The z with P(|Z| ≤ z) = `confidence` for a standard normal Z (2.576 for 0.99).
pub fn z_two_sided(confidence: f64) -> f64 {
    let c = if confidence.is_finite() {
        confidence.clamp(0.5, 0.999_999_999)
    } else {
        0.99
    };
    inverse_normal(1.0 - (1.0 - c) / 2.0)
}

/// The standard normal quantile function, by Acklam's rational approximation (relative error
/// below 1.2e-9), for 0 < p < 1.
pub fn inverse_normal(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// A value with its confidence interval and the samples behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    pub value: f64,
    pub interval: Interval,
    pub samples: u64,
}

/// The quantile `q` of a histogram of microseconds, in milliseconds, with its interval; none for
/// an empty histogram. The value is the histogram's own (`value_at_quantile`, as the results'
/// `p95_ms`).
pub fn quantile(h: &Histogram<u64>, q: f64, z: f64) -> Option<Measure> {
    let n = h.len();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let center = nf * q;
    let half = z * (nf * q * (1.0 - q)).max(0.0).sqrt();
    let low_rank = ((center - half).floor().max(1.0) as u64).min(n);
    let high_rank = ((center + half).ceil().max(1.0) as u64).min(n);
    let ms = |us: u64| us as f64 / 1000.0;
    let low = at_rank(h, low_rank).map_or(0, |v| h.lowest_equivalent(v));
    let high = at_rank(h, high_rank).map_or(h.max(), |v| h.highest_equivalent(v));
    Some(Measure {
        value: ms(h.value_at_quantile(q)),
        interval: Interval {
            low: ms(low),
            high: ms(high),
        },
        samples: n,
    })
}

/// The samples a side needs before quantile `q` is judged: the interval of its rank uses the
/// normal approximation of a binomial, sound when n·q·(1−q) ≥ 9; below that (p99 of 50 logins:
/// the largest one or two values) a difference says nothing about the service.
pub fn samples_for_quantile(q: f64) -> u64 {
    (9.0 / (q * (1.0 - q))).ceil() as u64
}

/// The value (bucket) holding the `rank`-th smallest sample (1-based).
fn at_rank(h: &Histogram<u64>, rank: u64) -> Option<u64> {
    let mut seen = 0u64;
    for v in h.iter_recorded() {
        seen = seen.saturating_add(v.count_at_value());
        if seen >= rank {
            return Some(v.value_iterated_to());
        }
    }
    None
}

/// `errors` out of `n` as a percentage, with its Wilson score interval; none when `n` is 0.
pub fn error_rate(errors: u64, n: u64, z: f64) -> Option<Measure> {
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let p = (errors.min(n) as f64) / nf;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let center = (p + z2 / (2.0 * nf)) / denom;
    let half = z / denom * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    Some(Measure {
        value: p * 100.0,
        interval: Interval {
            low: ((center - half).max(0.0)) * 100.0,
            high: ((center + half).min(1.0)) * 100.0,
        },
        samples: n,
    })
}

/// `count` events over `secs` seconds as a rate per second, with the Poisson interval of the
/// count (square-root approximation: (√c − z/2)² to (√(c+1) + z/2)²); none without run time.
pub fn throughput(count: u64, secs: f64, z: f64) -> Option<Measure> {
    if !(secs.is_finite() && secs > 0.0) {
        return None;
    }
    let c = count as f64;
    let low = (c.sqrt() - z / 2.0).max(0.0).powi(2);
    let high = ((c + 1.0).sqrt() + z / 2.0).powi(2);
    Some(Measure {
        value: c / secs,
        interval: Interval {
            low: low / secs,
            high: high / secs,
        },
        samples: count,
    })
}

/// Which way is a regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worse {
    /// Latency: higher is worse.
    Higher,
    /// Throughput: lower is worse.
    Lower,
}

/// The verdict of a shift between two measures (a latency quantile or a throughput): a change
/// counts only when the intervals do not overlap, the relative change exceeds `tolerance` (a
/// fraction) and the absolute change exceeds `min_delta` (the row's unit).
pub fn judge_shift(
    base: &Measure,
    cur: &Measure,
    tolerance: f64,
    min_delta: f64,
    worse: Worse,
    min_samples: u64,
) -> (RowVerdict, Option<String>) {
    if let Some(note) = too_few(base.samples, cur.samples, min_samples) {
        return (RowVerdict::Same, Some(note));
    }
    let delta = cur.value - base.value;
    let rel = relative(base.value, delta);
    let up = cur.interval.low > base.interval.high;
    let down = cur.interval.high < base.interval.low;
    let rose = up && rel > tolerance && delta > min_delta;
    let fell = down && -rel > tolerance && -delta > min_delta;
    let verdict = match (rose, fell, worse) {
        (true, _, Worse::Higher) | (_, true, Worse::Lower) => RowVerdict::Worse,
        (true, _, Worse::Lower) | (_, true, Worse::Higher) => RowVerdict::Better,
        _ => RowVerdict::Same,
    };
    let note = if verdict != RowVerdict::Same || delta == 0.0 {
        None
    } else if !(up || down) {
        (rel.abs() > tolerance).then(|| "within noise (intervals overlap)".to_string())
    } else if rel.abs() <= tolerance {
        Some("within tolerance".to_string())
    } else {
        Some("below min delta".to_string())
    };
    (verdict, note)
}

/// The verdict of two error rates (`e` failures out of `n` on each side): worse when the
/// two-proportion z-test says the current rate is higher at this confidence (`z`) and by more
/// than `tolerance_pp` percentage points; better symmetrically.
pub fn judge_rates(
    (e1, n1): (u64, u64),
    (e2, n2): (u64, u64),
    z: f64,
    tolerance_pp: f64,
    min_samples: u64,
) -> (RowVerdict, Option<String>) {
    if let Some(note) = too_few(n1, n2, min_samples) {
        return (RowVerdict::Same, Some(note));
    }
    let (e1, e2) = (e1.min(n1) as f64, e2.min(n2) as f64);
    let (n1, n2) = (n1 as f64, n2 as f64);
    let (p1, p2) = (e1 / n1, e2 / n2);
    let pooled = (e1 + e2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let diff_pp = (p2 - p1) * 100.0;
    if se <= 0.0 || diff_pp == 0.0 {
        return (RowVerdict::Same, None);
    }
    let stat = (p2 - p1) / se;
    let significant = stat.abs() > z;
    if significant && diff_pp.abs() > tolerance_pp {
        let v = if diff_pp > 0.0 {
            RowVerdict::Worse
        } else {
            RowVerdict::Better
        };
        return (v, None);
    }
    let note = if !significant {
        (diff_pp.abs() > tolerance_pp).then(|| "within noise (two-proportion test)".to_string())
    } else {
        Some("within tolerance".to_string())
    };
    (RowVerdict::Same, note)
}

/// `delta` relative to `base` (a fraction); ±infinity from a zero baseline.
pub fn relative(base: f64, delta: f64) -> f64 {
    if base != 0.0 {
        delta / base.abs()
    } else if delta == 0.0 {
        0.0
    } else {
        f64::INFINITY.copysign(delta)
    }
}

fn too_few(base: u64, cur: u64, min: u64) -> Option<String> {
    (base < min || cur < min)
        .then(|| format!("too few samples: {base} vs {cur} (needs {min} on each side)"))
}

#[cfg(test)]
mod tests;
