use super::*;
use crate::QuantError;

/// Deterministic uniform values in [0, 1).
fn uniform(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

/// Deterministic standard normal values (Box-Muller).
fn normal(n: usize, seed: u64) -> Vec<f32> {
    let u = uniform(2 * n, seed);
    (0..n)
        .map(|i| {
            let (a, b) = (f64::from(u[2 * i]).max(1e-12), f64::from(u[2 * i + 1]));
            ((-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()) as f32
        })
        .collect()
}

fn percentile(p: f64, symmetric: bool) -> HistogramCalibrator {
    HistogramCalibrator::new(
        HistogramRule::percentile(p, symmetric).unwrap(),
        DEFAULT_BINS,
    )
    .unwrap()
}

#[test]
fn histogram_ignores_batching_and_order() {
    let values: Vec<f32> = normal(20_000, 7).iter().map(|v| v * 3.0 + 0.5).collect();
    let mut whole = Histogram::new(DEFAULT_BINS).unwrap();
    whole.observe(&values);
    // Small batches first, so the range grows many times.
    let mut sorted = values.clone();
    sorted.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    let mut batched = Histogram::new(DEFAULT_BINS).unwrap();
    for chunk in sorted.chunks(37) {
        batched.observe(chunk);
    }
    assert_eq!(batched, whole);
    let (left, right) = values.split_at(12_345);
    let mut a = Histogram::new(DEFAULT_BINS).unwrap();
    let mut b = Histogram::new(DEFAULT_BINS).unwrap();
    a.observe(right);
    b.observe(left);
    a.merge(&b).unwrap();
    assert_eq!(a, whole);
    assert_eq!(whole.total(), 20_000);
    assert_eq!(whole.counts().iter().sum::<u64>(), 20_000);
}

#[test]
fn histogram_edges_and_tiny_values() {
    let mut h = Histogram::new(4).unwrap();
    h.observe(&[0.0, 0.0]);
    assert_eq!(h.counts(), &[0, 0, 2, 0]);
    h.observe(&[-1.0, 1.0, f32::NAN]);
    // max 1.0 needs 2 * 2^e > 1: e = 0, bins [-2,-1) [-1,0) [0,1) [1,2).
    assert_eq!(h.bin_width(), 1.0);
    assert_eq!(h.counts(), &[0, 1, 2, 1]);
    assert_eq!(h.skipped(), 1);
    h.observe(&[-1e-45, 1e-45]);
    assert_eq!(h.counts(), &[0, 2, 3, 1]);
    assert_eq!(
        Histogram::new(3),
        Err(QuantError::InvalidBinCount { bins: 3 })
    );
    assert!(h.merge(&Histogram::new(8).unwrap()).is_err());
}

#[test]
fn percentile_of_uniform_values() {
    let values: Vec<f32> = (0..10_000).map(|i| i as f32 / 10_000.0).collect();
    let mut c = percentile(99.0, false);
    c.observe(&values);
    let (lo, hi) = c.range().unwrap();
    let w = c.histogram().bin_width() as f32;
    assert!((lo - 0.01).abs() <= 2.0 * w, "{lo}");
    assert!((hi - 0.99).abs() <= 2.0 * w, "{hi}");
    let mut all = percentile(100.0, false);
    all.observe(&values);
    assert_eq!(all.range(), Ok((0.0, 0.9999)));
    let mut sym = percentile(100.0, true);
    sym.observe(&values);
    assert_eq!(sym.range(), Ok((-0.9999, 0.9999)));
}

#[test]
fn percentile_of_normal_values() {
    let values = normal(200_000, 3);
    let mut c = percentile(99.9, true);
    c.observe(&values);
    let (lo, hi) = c.range().unwrap();
    assert_eq!(lo, -hi);
    // Two-sided 99.9% of |N(0, 1)| is 3.29.
    assert!((hi - 3.29).abs() < 0.05, "{hi}");
    let mut two = percentile(99.0, false);
    two.observe(&values);
    let (lo, hi) = two.range().unwrap();
    assert!(
        (lo + 2.326).abs() < 0.05 && (hi - 2.326).abs() < 0.05,
        "{lo} {hi}"
    );
}

#[test]
fn mse_clips_rare_outliers_and_keeps_dense_ranges() {
    let spec = QuantSpec::INT4;
    let method = CalibrationMethod::Mse {
        spec,
        mode: ScaleMode::Float,
        symmetric: true,
    };
    let mut values: Vec<f32> = uniform(100_000, 11).iter().map(|v| 2.0 * v - 1.0).collect();
    let mut dense = method.calibrator().unwrap();
    dense.observe(&values);
    let (lo, hi) = dense.range().unwrap();
    assert_eq!(lo, -hi);
    assert!(hi > 0.9 && hi <= 1.0, "{hi}");
    values.push(50.0);
    let mut outlier = method.calibrator().unwrap();
    outlier.observe(&values);
    let (_, hi) = outlier.range().unwrap();
    assert!(hi < 2.0, "{hi}");
    assert_eq!(outlier.range(), outlier.clone().range());
    let asym = CalibrationMethod::Mse {
        spec: QuantSpec::UINT8,
        mode: ScaleMode::PowerOfTwo,
        symmetric: false,
    };
    let mut relu = asym.calibrator().unwrap();
    relu.observe(&uniform(10_000, 5));
    let (lo, hi) = relu.range().unwrap();
    assert!(lo == 0.0 && hi > 0.5 && hi < 1.0, "{lo} {hi}");
}

#[test]
fn methods_and_errors() {
    for p in [0.0, -1.0, 100.5, f64::NAN] {
        assert!(matches!(
            CalibrationMethod::Percentile {
                percentile: p,
                symmetric: false
            }
            .calibrator(),
            Err(QuantError::PercentileOutOfRange { .. })
        ));
    }
    let mut c = CalibrationMethod::MinMax.calibrator().unwrap();
    assert_eq!(c.range(), Err(QuantError::NoObservations));
    c.observe(&[f32::NAN]);
    assert_eq!(c.range(), Err(QuantError::NoObservations));
    c.observe(&[2.0, -1.0]);
    assert_eq!(c.range(), Ok((-1.0, 2.0)));
    let h = CalibrationMethod::Percentile {
        percentile: 99.0,
        symmetric: false,
    }
    .calibrator()
    .unwrap();
    assert!(c.merge(&h).is_err());
    let mut zeros = CalibrationMethod::Mse {
        spec: QuantSpec::INT8,
        mode: ScaleMode::Float,
        symmetric: false,
    }
    .calibrator()
    .unwrap();
    zeros.observe(&[0.0; 10]);
    assert_eq!(zeros.range(), Ok((0.0, 0.0)));
}
