use super::*;
use ndarray::{arr2, Array2};

#[test]
fn power_of_two_rule_covers_the_largest_weight() {
    let i4 = QuantSpec::INT4;
    // qmax 7: 2^-3 * 7 = 0.875 < 0.9, so 2^-2 (Q1.2, range [-2, 1.75]).
    assert_eq!(symmetric_scale(0.9, i4, ScaleMode::PowerOfTwo), Ok(0.25));
    // The bound is inclusive: 0.875 fits Q0.3 exactly.
    assert_eq!(symmetric_scale(0.875, i4, ScaleMode::PowerOfTwo), Ok(0.125));
    assert_eq!(symmetric_scale(0.876, i4, ScaleMode::PowerOfTwo), Ok(0.25));
    // int8, max 1.0: 127 / 128 < 1 <= 127 / 64.
    assert_eq!(
        symmetric_scale(1.0, QuantSpec::INT8, ScaleMode::PowerOfTwo),
        Ok(2f32.powi(-6))
    );
    // Large magnitudes give negative fraction lengths: 7 * 128 < 1000 <= 7 * 256.
    let s = symmetric_scale(1000.0, i4, ScaleMode::PowerOfTwo).unwrap();
    assert_eq!((s, fraction_length(s)), (256.0, Some(-8)));
    assert_eq!(fraction_length(0.25), Some(2));
    assert_eq!(fraction_length(0.3), None);
    assert_eq!(fraction_length(0.0), None);
    for bits in 2..=16 {
        let spec = QuantSpec::signed(bits).unwrap();
        for &m in &[1e-30f32, 0.001, 0.3, 0.5, 1.0, 3.7, 1e20] {
            let s = symmetric_scale(m, spec, ScaleMode::PowerOfTwo).unwrap();
            let h = spec.qmax() as f64;
            assert!(
                h * f64::from(s) >= f64::from(m),
                "{bits} bits, {m}: {s} does not cover"
            );
            assert!(
                h * f64::from(s) / 2.0 < f64::from(m),
                "{bits} bits, {m}: {s} is not the finest"
            );
        }
    }
}

#[test]
fn float_and_degenerate_scales() {
    let i4 = QuantSpec::INT4;
    assert_eq!(symmetric_scale(0.9, i4, ScaleMode::Float), Ok(0.9 / 7.0));
    assert_eq!(symmetric_scale(-0.9, i4, ScaleMode::Float), Ok(0.9 / 7.0));
    assert_eq!(
        symmetric_scale(0.0, i4, ScaleMode::Float),
        Ok(ZERO_RANGE_SCALE)
    );
    assert_eq!(
        symmetric_scale(0.0, i4, ScaleMode::PowerOfTwo),
        Ok(ZERO_RANGE_SCALE)
    );
    assert_eq!(
        symmetric_scale(1e-40, i4, ScaleMode::Float),
        Ok(f32::MIN_POSITIVE)
    );
    assert_eq!(
        symmetric_scale(1e-40, i4, ScaleMode::PowerOfTwo),
        Ok(f32::MIN_POSITIVE)
    );
    assert!(matches!(
        symmetric_scale(f32::NAN, i4, ScaleMode::Float),
        Err(QuantError::NonFinite { .. })
    ));
    let two_bit = QuantSpec::signed(2).unwrap();
    assert!(matches!(
        symmetric_scale(f32::MAX, two_bit, ScaleMode::PowerOfTwo),
        Err(QuantError::ScaleOutOfRange { .. })
    ));
    assert_eq!(
        symmetric_scale(f32::MAX, two_bit, ScaleMode::Float),
        Ok(f32::MAX)
    );
}

#[test]
fn per_channel_symmetric_params() {
    let w = arr2(&[[0.5f32, -1.0, 0.25], [0.0, 0.0, 0.0]]);
    let spec = QuantSpec::INT8;
    let p0 = symmetric_params(
        &w.view(),
        spec,
        Granularity::PerChannel { axis: 0 },
        ScaleMode::Float,
    )
    .unwrap();
    assert_eq!(p0.scales, vec![1.0 / 127.0, ZERO_RANGE_SCALE]);
    assert_eq!((p0.zero_points, p0.axis), (vec![0, 0], Some(0)));
    let p1 = symmetric_params(
        &w.view(),
        spec,
        Granularity::PerChannel { axis: 1 },
        ScaleMode::PowerOfTwo,
    )
    .unwrap();
    let expected: Vec<f32> = [0.5f32, 1.0, 0.25]
        .iter()
        .map(|&m| symmetric_scale(m, spec, ScaleMode::PowerOfTwo).unwrap())
        .collect();
    assert_eq!(p1.scales, expected);
    assert_eq!(p1.scales, vec![2f32.powi(-7), 2f32.powi(-6), 2f32.powi(-8)]);
    let pt = symmetric_params(&w.view(), spec, Granularity::PerTensor, ScaleMode::Float).unwrap();
    assert_eq!((pt.scales, pt.axis), (vec![1.0 / 127.0], None));
    let unsigned = symmetric_params(
        &w.view(),
        QuantSpec::UINT8,
        Granularity::PerTensor,
        ScaleMode::Float,
    )
    .unwrap();
    assert_eq!(
        (unsigned.scales, unsigned.zero_points),
        (vec![1.0 / 127.0], vec![128])
    );
    assert!(matches!(
        symmetric_params(
            &w.view(),
            spec,
            Granularity::PerChannel { axis: 2 },
            ScaleMode::Float
        ),
        Err(QuantError::AxisOutOfRange { axis: 2, rank: 2 })
    ));
    let bad = Array2::from_elem((2, 2), f32::INFINITY);
    assert!(matches!(
        symmetric_params(&bad.view(), spec, Granularity::PerTensor, ScaleMode::Float),
        Err(QuantError::NonFinite { .. })
    ));
}

#[test]
fn asymmetric_ranges() {
    let u8s = QuantSpec::UINT8;
    let f = ScaleMode::Float;
    assert_eq!(
        asymmetric_scale_zero_point(0.0, 2.55, u8s, f),
        Ok((2.55 / 255.0, 0))
    );
    // The zero point uses the stored f32 scale, slightly above 2 / 255, so
    // 1 / scale = 127.4999... rounds to 127.
    assert_eq!(
        asymmetric_scale_zero_point(-1.0, 1.0, u8s, f),
        Ok((2.0 / 255.0, 127))
    );
    // An exact tie, 0 - (-1.5) / 1 = 1.5, rounds to even.
    let u2 = QuantSpec::unsigned(2).unwrap();
    assert_eq!(asymmetric_scale_zero_point(-1.5, 1.5, u2, f), Ok((1.0, 2)));
    assert_eq!(asymmetric_scale_zero_point(-2.5, 0.5, u2, f), Ok((1.0, 2)));
    // The range is widened to include 0.
    assert_eq!(
        asymmetric_scale_zero_point(1.0, 3.0, u8s, f),
        asymmetric_scale_zero_point(0.0, 3.0, u8s, f)
    );
    assert_eq!(
        asymmetric_scale_zero_point(-3.0, -1.0, u8s, f),
        Ok((3.0 / 255.0, 255))
    );
    assert_eq!(asymmetric_scale_zero_point(0.0, 0.0, u8s, f), Ok((1.0, 0)));
    assert_eq!(
        asymmetric_scale_zero_point(0.0, 0.0, QuantSpec::INT8, f),
        Ok((1.0, 0))
    );
    // Powers of two: 255 / 128 < 2 <= 255 / 64.
    assert_eq!(
        asymmetric_scale_zero_point(-1.0, 1.0, u8s, ScaleMode::PowerOfTwo),
        Ok((1.0 / 64.0, 64))
    );
    assert!(matches!(
        asymmetric_scale_zero_point(1.0, 0.5, u8s, f),
        Err(QuantError::EmptyRange { .. })
    ));
    assert!(matches!(
        asymmetric_scale_zero_point(f32::NAN, 0.5, u8s, f),
        Err(QuantError::NonFinite { .. })
    ));
    let p = asymmetric_params(&[(-1.0, 1.0), (0.0, 2.55)], Some(1), u8s, f).unwrap();
    assert_eq!((p.zero_points, p.axis), (vec![127, 0], Some(1)));
    assert!(asymmetric_params(&[(-1.0, 1.0), (0.0, 2.55)], None, u8s, f).is_err());
}

#[test]
fn power_of_two_asymmetric_always_covers() {
    let mut lcg = 12345u64;
    let mut next = || {
        lcg = lcg
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (lcg >> 40) as f32 / (1u64 << 24) as f32
    };
    for bits in [2u8, 4, 8] {
        for signed in [false, true] {
            let spec = QuantSpec::new(bits, signed, false).unwrap();
            for _ in 0..500 {
                let (a, b) = (next() * 10.0 - 7.0, next() * 10.0 - 3.0);
                let (lo, hi) = (a.min(b), a.max(b));
                let (s, zp) =
                    asymmetric_scale_zero_point(lo, hi, spec, ScaleMode::PowerOfTwo).unwrap();
                assert!(fraction_length(s).is_some());
                let (qlo, qhi) = ((spec.qmin() - zp) as f32 * s, (spec.qmax() - zp) as f32 * s);
                assert!(
                    qlo <= lo.min(0.0) && qhi >= hi.max(0.0),
                    "{spec:?} [{lo}, {hi}] -> {s} {zp}"
                );
            }
        }
    }
}

#[test]
fn full_range_weights_use_the_lowest_code() {
    let i4 = QuantSpec::INT4;
    // onnxruntime's symmetric scale: 2 max|w| / (2^b - 1) = 1.5 / 7.5.
    let w = arr2(&[[1.5f32, -1.5, 0.75, 0.0]]);
    let p = weight_params(
        &w.view(),
        i4,
        Granularity::PerTensor,
        ScaleMode::Float,
        WeightRange::Full,
    )
    .unwrap();
    assert!((p.scales[0] - 0.2).abs() < 1e-7, "{:?}", p.scales);
    assert_eq!(p.zero_points, vec![0]);
    let codes = crate::quantize(&w.view(), &p).unwrap();
    // 7.5 rounds to even (8) and clamps to 7; -7.5 rounds to -8.
    assert_eq!(codes.iter().copied().collect::<Vec<_>>(), vec![7, -8, 4, 0]);
    let sym = weight_params(
        &w.view(),
        i4,
        Granularity::PerTensor,
        ScaleMode::Float,
        WeightRange::Symmetric,
    )
    .unwrap();
    assert_eq!(
        sym,
        symmetric_params(&w.view(), i4, Granularity::PerTensor, ScaleMode::Float).unwrap()
    );
    // Power of two: 0.9 <= 8 * 2^-3, where the symmetric grid needs 2^-2.
    assert_eq!(
        weight_scale(0.9, i4, ScaleMode::PowerOfTwo, WeightRange::Full),
        Ok(0.125)
    );
    assert_eq!(
        weight_scale(0.9, i4, ScaleMode::PowerOfTwo, WeightRange::Symmetric),
        Ok(0.25)
    );
    assert_eq!(
        weight_scale(0.0, i4, ScaleMode::Float, WeightRange::Full),
        Ok(ZERO_RANGE_SCALE)
    );
}

#[test]
fn symmetric_activation_ranges_have_zero_point_zero() {
    let p = symmetric_range_params((-1.0, 3.0), QuantSpec::INT8, ScaleMode::Float).unwrap();
    assert_eq!(p.zero_points, vec![0]);
    assert!((p.scales[0] - 3.0 / 127.0).abs() < 1e-9);
    let p = symmetric_range_params((-5.0, 3.0), QuantSpec::INT8, ScaleMode::PowerOfTwo).unwrap();
    assert_eq!((p.scales[0], p.zero_points[0]), (0.0625, 0));
    assert!(symmetric_range_params((1.0, -1.0), QuantSpec::INT8, ScaleMode::Float).is_err());
}
