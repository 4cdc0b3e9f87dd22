//! The statistics on synthetic histograms: identical, shifted, same-distribution trials,
//! tolerance, min delta, too few samples, error rates and throughputs.

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;
use crate::compare::testing::lognormal_us;
use crate::compare::{compare, test_results, Metric, Settings};
use crate::metrics::recorder::{new_histogram, record};

/// `n` lognormal samples around `median_ms` (spread 0.25), each multiplied by `scale`.
fn hist(seed: u64, n: u64, median_ms: f64, scale: f64) -> Histogram<u64> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut h = new_histogram();
    for _ in 0..n {
        record(
            &mut h,
            (lognormal_us(&mut rng, median_ms, 0.25) as f64 * scale) as u64,
        );
    }
    h
}

fn verdict(b: &Histogram<u64>, c: &Histogram<u64>, q: f64, s: &Settings) -> RowVerdict {
    let (x, y) = (quantile(b, q, s.z).unwrap(), quantile(c, q, s.z).unwrap());
    judge_shift(
        &x,
        &y,
        s.tolerance,
        s.min_delta_ms,
        Worse::Higher,
        s.min_samples,
    )
    .0
}

#[test]
fn z_of_common_confidences() {
    assert!((z_two_sided(0.99) - 2.575_829).abs() < 1e-5);
    assert!((z_two_sided(0.95) - 1.959_964).abs() < 1e-5);
    assert!((z_two_sided(0.999) - 3.290_527).abs() < 1e-5);
    assert!((inverse_normal(0.5)).abs() < 1e-9);
    assert!((inverse_normal(0.01) + 2.326_348).abs() < 1e-5);
}

#[test]
fn the_interval_brackets_the_quantile_and_narrows_with_n() {
    let s = Settings::default();
    let small = quantile(&hist(1, 200, 20.0, 1.0), 0.95, s.z).unwrap();
    let big = quantile(&hist(1, 20_000, 20.0, 1.0), 0.95, s.z).unwrap();
    for m in [small, big] {
        assert!(
            m.interval.low <= m.value && m.value <= m.interval.high,
            "{m:?}"
        );
    }
    let width = |m: Measure| m.interval.high - m.interval.low;
    assert!(width(big) < width(small) / 4.0, "{small:?} {big:?}");
    // The true p95 of this lognormal: 20 ms · e^(0.25 · 1.645) = 30.2 ms.
    assert!(
        big.interval.low < 30.2 && 30.2 < big.interval.high,
        "{big:?}"
    );
    assert!(quantile(&new_histogram(), 0.5, s.z).is_none());
}

#[test]
fn identical_is_same() {
    let s = Settings::default();
    let h = hist(3, 2_000, 20.0, 1.0);
    for q in [0.5, 0.95, 0.99] {
        assert_eq!(verdict(&h, &h, q, &s), RowVerdict::Same);
    }
}

#[test]
fn a_15_percent_shift_is_worse_and_its_reverse_better() {
    let s = Settings::default();
    let (b, c) = (hist(4, 2_000, 20.0, 1.0), hist(5, 2_000, 20.0, 1.15));
    for q in [0.5, 0.95] {
        assert_eq!(verdict(&b, &c, q, &s), RowVerdict::Worse, "q={q}");
        assert_eq!(verdict(&c, &b, q, &s), RowVerdict::Better, "q={q}");
    }
    // n = 1,000 is enough for the median.
    let (b, c) = (hist(6, 1_000, 20.0, 1.0), hist(7, 1_000, 20.0, 1.15));
    assert_eq!(verdict(&b, &c, 0.5, &s), RowVerdict::Worse);
}

#[test]
fn the_same_distribution_gives_at_most_one_false_alarm_in_200_trials() {
    let s = Settings::default();
    let mut alarms = Vec::new();
    for t in 0..200u64 {
        let (b, c) = (
            hist(1000 + t, 2_000, 20.0, 1.0),
            hist(5000 + t, 2_000, 20.0, 1.0),
        );
        for q in [0.5, 0.95, 0.99] {
            if verdict(&b, &c, q, &s) != RowVerdict::Same {
                alarms.push((t, q));
            }
        }
    }
    assert!(alarms.len() <= 1, "false alarms: {alarms:?}");
}

#[test]
fn tolerance_and_min_delta_are_respected() {
    let (b, c) = (hist(8, 5_000, 20.0, 1.0), hist(9, 5_000, 20.0, 1.15));
    // Beyond noise, but within a 20% tolerance.
    let loose = Settings::new(0.99, 0.20, 1.0, 1.0);
    assert_eq!(verdict(&b, &c, 0.5, &loose), RowVerdict::Same);
    let x = quantile(&b, 0.5, loose.z).unwrap();
    let y = quantile(&c, 0.5, loose.z).unwrap();
    let (_, note) = judge_shift(&x, &y, 0.20, 1.0, Worse::Higher, 20);
    assert_eq!(note.as_deref(), Some("within tolerance"));
    // +15% of 20 ms is 3 ms: below a 5 ms min delta.
    let coarse = Settings::new(0.99, 0.10, 5.0, 1.0);
    assert_eq!(verdict(&b, &c, 0.5, &coarse), RowVerdict::Same);
    let (_, note) = judge_shift(&x, &y, 0.10, 5.0, Worse::Higher, 20);
    assert_eq!(note.as_deref(), Some("below min delta"));
    // A large relative change of a tiny latency: below the default 1 ms.
    let (b, c) = (hist(10, 5_000, 0.2, 1.0), hist(11, 5_000, 0.2, 2.0));
    assert_eq!(verdict(&b, &c, 0.5, &Settings::default()), RowVerdict::Same);
}

#[test]
fn too_few_samples_is_same_with_a_note() {
    let (b, c) = (hist(12, 10, 20.0, 1.0), hist(13, 10, 20.0, 3.0));
    let s = Settings::default();
    let x = quantile(&b, 0.5, s.z).unwrap();
    let y = quantile(&c, 0.5, s.z).unwrap();
    let (v, note) = judge_shift(&x, &y, 0.1, 1.0, Worse::Higher, s.min_samples);
    assert_eq!(v, RowVerdict::Same);
    assert!(note.unwrap().starts_with("too few samples"));
}

#[test]
fn error_rates_by_the_two_proportion_test() {
    let z = Settings::default().z;
    // 0/1000 vs 50/1000: 5 points, significant.
    assert_eq!(
        judge_rates((0, 1000), (50, 1000), z, 1.0, 20).0,
        RowVerdict::Worse
    );
    assert_eq!(
        judge_rates((50, 1000), (0, 1000), z, 1.0, 20).0,
        RowVerdict::Better
    );
    // 2 points but within a 3-point tolerance.
    let (v, note) = judge_rates((10, 1000), (30, 1000), z, 3.0, 20);
    assert_eq!(
        (v, note.as_deref()),
        (RowVerdict::Same, Some("within tolerance"))
    );
    // 1/30 vs 3/30: 6.7 points, but noise at n = 30.
    let (v, note) = judge_rates((1, 30), (3, 30), z, 1.0, 20);
    assert_eq!(v, RowVerdict::Same);
    assert!(note.unwrap().starts_with("within noise"));
    assert_eq!(
        judge_rates((0, 1000), (0, 1000), z, 1.0, 20),
        (RowVerdict::Same, None)
    );
    assert_eq!(judge_rates((0, 5), (5, 5), z, 1.0, 20).0, RowVerdict::Same);
    let m = error_rate(5, 100, z).unwrap();
    assert!(
        m.interval.low < 5.0 && 5.0 < m.interval.high && m.value == 5.0,
        "{m:?}"
    );
    assert!(error_rate(0, 0, z).is_none());
}

#[test]
fn throughput_lower_is_worse() {
    let z = Settings::default().z;
    let b = throughput(10_000, 10.0, z).unwrap();
    let c = throughput(8_000, 10.0, z).unwrap();
    assert_eq!(
        judge_shift(&b, &c, 0.1, 0.0, Worse::Lower, 20).0,
        RowVerdict::Worse
    );
    assert_eq!(
        judge_shift(&c, &b, 0.1, 0.0, Worse::Lower, 20).0,
        RowVerdict::Better
    );
    let c = throughput(9_500, 10.0, z).unwrap();
    assert_eq!(
        judge_shift(&b, &c, 0.1, 0.0, Worse::Lower, 20).0,
        RowVerdict::Same
    );
    assert!(throughput(5, 0.0, z).is_none());
}

#[test]
fn results_compare_row_by_row() {
    let base = test_results(1_500, 1.0, 10.0);
    let same = compare(("a", &base), ("a", &base), Settings::default());
    assert_eq!(same.tally.worse, 0);
    assert_eq!(same.tally.better, 0);
    assert!(!same.regression);
    let slow = test_results(1_500, 1.5, 10.0);
    let c = compare(("a", &base), ("b", &slow), Settings::default());
    assert!(c.regression);
    let row = |name: &str| c.rows.iter().find(|r| r.name() == name).unwrap();
    assert_eq!(row("chat.agent_started.p95").verdict, RowVerdict::Worse);
    assert_eq!(row("iteration.p50").verdict, RowVerdict::Worse);
    assert_eq!(row("flows.error_rate").verdict, RowVerdict::Same);
    assert_eq!(row("flows.throughput").verdict, RowVerdict::Same);
    // Every step (login, connect, handshake, chat, close) and event has its rows.
    let steps = ["login", "connect", "handshake", "chat", "close"];
    for s in steps {
        assert_eq!(
            c.rows
                .iter()
                .filter(|r| r.name().starts_with(&format!("{s}.p")))
                .count(),
            3
        );
    }
    let events = c.rows.iter().filter(|r| r.event.is_some()).count();
    assert_eq!(
        events,
        4 * base.steps.iter().map(|s| s.events.len()).sum::<usize>()
    );
    assert_eq!(c.rows.len(), steps.len() * 5 + events + 3 + 2);
    let text = crate::compare::table::render(&c);
    assert!(
        text.lines()
            .last()
            .unwrap()
            .ends_with("REGRESSION (exit 5)"),
        "{text}"
    );
    assert!(text.contains("! p95"), "{text}");
}

#[test]
fn a_step_missing_on_one_side_is_reported_not_a_crash() {
    let base = test_results(500, 1.0, 10.0);
    let mut cur = base.clone();
    cur.steps.retain(|s| s.name != "close");
    cur.steps[3].events.remove(0);
    let c = compare(("a", &base), ("b", &cur), Settings::default());
    let close: Vec<_> = c.rows.iter().filter(|r| r.step == "close").collect();
    assert_eq!(close.len(), 5);
    assert!(close.iter().all(|r| r.verdict == RowVerdict::NotApplicable));
    assert_eq!(close[0].note.as_deref(), Some("missing in current"));
    let first = &base.steps[3].events[0].name;
    let ev = c
        .rows
        .iter()
        .find(|r| r.event.as_ref() == Some(first) && r.metric == Metric::P95)
        .unwrap();
    assert_eq!(ev.verdict, RowVerdict::NotApplicable);
    assert!(!c.regression);
    let text = crate::compare::table::render(&c);
    assert!(text.contains("close: n/a (missing in current)"), "{text}");
}

/// A tail quantile is judged only with enough samples for its rank's interval: the p99 of 50
/// values is decided by their largest few, so five slower values out of 50 are `same` ("too few
/// samples"), where the rank interval alone would have called them worse.
#[test]
fn a_tail_quantile_of_few_samples_is_not_judged() {
    assert_eq!([0.5, 0.95, 0.99].map(samples_for_quantile), [36, 190, 910]);
    let mut base = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut cur = base.clone();
    for i in 0..50u64 {
        base.record(10_000 + i * 10).unwrap();
        cur.record(10_000 + i * 10 + if i >= 45 { 30_000 } else { 0 })
            .unwrap();
    }
    let z = z_two_sided(0.99);
    let (b, c) = (
        quantile(&base, 0.99, z).unwrap(),
        quantile(&cur, 0.99, z).unwrap(),
    );
    let (v, note) = judge_shift(&b, &c, 0.10, 1.0, Worse::Higher, samples_for_quantile(0.99));
    assert_eq!(v, RowVerdict::Same);
    assert_eq!(
        note.as_deref(),
        Some("too few samples: 50 vs 50 (needs 910 on each side)")
    );
    // Without the rule the five slower values would have been flagged.
    let (v, _) = judge_shift(&b, &c, 0.10, 1.0, Worse::Higher, 20);
    assert_eq!(v, RowVerdict::Worse);
}
