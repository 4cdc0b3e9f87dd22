//! Test inputs of the comparison: results of the golden path built from seeded random samples.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::metrics::recorder::{record, Recorder};
use crate::metrics::summary::{Mode, RunInfo, StoppedBy, Summary};
use crate::shard::Shard;

/// A lognormal sample around `median_ms` (spread `sigma`), in microseconds (Box–Muller).
pub fn lognormal_us(rng: &mut SmallRng, median_ms: f64, sigma: f64) -> u64 {
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.gen();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    (median_ms * 1000.0 * (sigma * z).exp()).round().max(1.0) as u64
}

/// Results of the golden path: `n` passed flows over `elapsed_s`, every step and event timed
/// by lognormal samples (events around 20 ms) multiplied by `scale`; seed fixed.
pub fn test_results(n: u64, scale: f64, elapsed_s: f64) -> Summary {
    test_results_seeded(n, scale, elapsed_s, 7)
}

pub fn test_results_seeded(n: u64, scale: f64, elapsed_s: f64, seed: u64) -> Summary {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden-path.toml");
    let plan = crate::scenario::load(&path, &crate::scenario::Overrides::default(), &|_| None)
        .expect("the golden path compiles");
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut rec = Recorder::new(&plan);
    let mut sample = |median: f64| (lognormal_us(&mut rng, median, 0.25) as f64 * scale) as u64;
    for _ in 0..n {
        for s in 0..rec.steps.len() {
            rec.steps[s].ok += 1;
            let v = sample(5.0);
            record(&mut rec.steps[s].latency, v);
        }
        for (i, h) in rec.expected_events(&plan).enumerate() {
            let v = sample(20.0 * (i + 1) as f64);
            record(h, v);
        }
        rec.flows_started += 1;
        rec.flows_passed += 1;
        let v = sample(150.0);
        record(&mut rec.iteration, v);
    }
    let info = RunInfo {
        mode: Mode::Run,
        stopped_by: StoppedBy::End,
        tool_errors: Vec::new(),
        shard: Shard { index: 1, count: 1 },
        started_at: "2026-12-01T10:00:00.000Z".into(),
        elapsed_s,
        timeseries: Vec::new(),
    };
    Summary::build(&plan, &rec, info)
}
