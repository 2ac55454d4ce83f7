//! Resize on the ONNX spec examples: nearest (every rounding mode), linear
//! and cubic, each coordinate transformation mode, scales or sizes, opset 10.

use crate::common::{data as values, f32s, i64s};
use wdq_exec::tensor_ops::run;
use wdq_exec::{KernelContext, KernelError, TensorValue};
use wdq_ir::op::ResizeAttrs;
use wdq_ir::Op;

fn exec(op: &Op, opset: i64, inputs: &[Option<&TensorValue>]) -> Result<TensorValue, KernelError> {
    let mut out = run(op, KernelContext { opset }, inputs)?;
    Ok(out.remove(0).unwrap())
}
fn close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
    }
}

fn resize(
    attrs: ResizeAttrs,
    x: &TensorValue,
    scales: Option<Vec<f32>>,
    sizes: Option<Vec<i64>>,
) -> TensorValue {
    let s = scales.map(|s| f32s(&[s.len()], s));
    let z = sizes.map(|s| i64s(&[s.len()], s));
    exec(
        &Op::Resize(attrs),
        13,
        &[Some(x), None, s.as_ref(), z.as_ref()],
    )
    .unwrap()
}
fn linear(coord: &str) -> ResizeAttrs {
    ResizeAttrs {
        mode: Some("linear".into()),
        coordinate_transformation_mode: Some(coord.into()),
        ..Default::default()
    }
}

#[test]
fn resize_nearest_spec_cases() {
    let x = f32s(&[1, 1, 2, 2], vec![1., 2., 3., 4.]);
    let y = resize(ResizeAttrs::default(), &x, Some(vec![1., 1., 2., 3.]), None);
    assert_eq!(y.shape(), [1, 1, 4, 6]);
    assert_eq!(
        values(&y),
        [
            1., 1., 1., 2., 2., 2., 1., 1., 1., 2., 2., 2., 3., 3., 3., 4., 4., 4., 3., 3., 3., 4.,
            4., 4.
        ]
    );
    let y = resize(ResizeAttrs::default(), &x, None, Some(vec![1, 1, 7, 8]));
    assert_eq!(y.shape(), [1, 1, 7, 8]);
    let v = values(&y);
    assert_eq!(v[24..32], [1., 1., 1., 1., 2., 2., 2., 2.]);
    assert_eq!(v[32..40], [3., 3., 3., 3., 4., 4., 4., 4.]);
    let x8 = f32s(&[1, 1, 2, 4], vec![1., 2., 3., 4., 5., 6., 7., 8.]);
    let y = resize(
        ResizeAttrs::default(),
        &x8,
        Some(vec![1., 1., 0.6, 0.6]),
        None,
    );
    assert_eq!(values(&y), [1., 3.]);
    // paddle style: asymmetric + floor
    let attrs = ResizeAttrs {
        coordinate_transformation_mode: Some("asymmetric".into()),
        nearest_mode: Some("floor".into()),
        ..Default::default()
    };
    let y = resize(attrs, &x, Some(vec![1., 1., 2., 2.]), None);
    assert_eq!(values(&y)[..8], [1., 1., 2., 2., 1., 1., 2., 2.]);
    // round_prefer_ceil + align_corners on sizes: [1,2] -> 3 samples at 0, 0.5, 1
    let attrs = ResizeAttrs {
        coordinate_transformation_mode: Some("align_corners".into()),
        nearest_mode: Some("round_prefer_ceil".into()),
        ..Default::default()
    };
    let row = f32s(&[1, 2], vec![1., 2.]);
    assert_eq!(
        values(&resize(attrs, &row, None, Some(vec![1, 3]))),
        [1., 2., 2.]
    );
    // opset 10: scales is input 1, asymmetric coordinates
    let y = exec(
        &Op::Resize(ResizeAttrs::default()),
        10,
        &[Some(&x), Some(&f32s(&[4], vec![1., 1., 2., 2.]))],
    )
    .unwrap();
    assert_eq!(values(&y)[..4], [1., 1., 2., 2.]);
    // integer data resizes with nearest
    let xi = i64s(&[1, 2], vec![5, 6]);
    assert_eq!(
        resize(ResizeAttrs::default(), &xi, Some(vec![1., 2.]), None),
        i64s(&[1, 4], vec![5, 5, 6, 6])
    );
}

#[test]
fn resize_linear_spec_cases() {
    let x = f32s(&[1, 1, 2, 2], vec![1., 2., 3., 4.]);
    let y = resize(linear("half_pixel"), &x, Some(vec![1., 1., 2., 2.]), None);
    close(
        &values(&y),
        &[
            1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0,
        ],
    );
    let y = resize(
        linear("align_corners"),
        &x,
        Some(vec![1., 1., 2., 2.]),
        None,
    );
    let t = 1.0 / 3.0;
    close(
        &values(&y)[..8],
        &[
            1.0,
            1.0 + t,
            1.0 + 2.0 * t,
            2.0,
            1.0 + 2.0 * t,
            2.0,
            2.0 + t,
            2.0 + 2.0 * t,
        ],
    );
    let x8 = f32s(&[1, 1, 2, 4], vec![1., 2., 3., 4., 5., 6., 7., 8.]);
    let y = resize(
        linear("half_pixel"),
        &x8,
        Some(vec![1., 1., 0.6, 0.6]),
        None,
    );
    close(&values(&y), &[2.6666665, 4.333333]);
    let y = resize(
        linear("pytorch_half_pixel"),
        &x8,
        None,
        Some(vec![1, 1, 1, 3]),
    );
    close(&values(&y), &[1.1666667, 2.5, 3.8333333]);
    let y = resize(linear("asymmetric"), &x, Some(vec![1., 1., 1., 2.]), None);
    close(&values(&y)[..4], &[1.0, 1.5, 2.0, 2.0]);
    // trilinear: every axis interpolated
    let cube = f32s(&[1, 1, 2, 2, 2], (0..8).map(|v| v as f32).collect());
    let y = resize(
        linear("align_corners"),
        &cube,
        None,
        Some(vec![1, 1, 3, 3, 3]),
    );
    assert_eq!(y.shape(), [1, 1, 3, 3, 3]);
    close(&values(&y)[13..14], &[3.5]);
    let crop = ResizeAttrs {
        coordinate_transformation_mode: Some("tf_crop_and_resize".into()),
        ..Default::default()
    };
    let r = exec(
        &Op::Resize(crop),
        13,
        &[Some(&x), None, Some(&f32s(&[4], vec![1., 1., 2., 2.]))],
    );
    assert!(matches!(r, Err(KernelError::Unsupported(_))));
}

fn cubic(coord: &str, a: Option<f32>, exclude_outside: bool) -> ResizeAttrs {
    ResizeAttrs {
        mode: Some("cubic".into()),
        coordinate_transformation_mode: Some(coord.into()),
        cubic_coeff_a: a,
        exclude_outside: Some(i64::from(exclude_outside)),
        ..Default::default()
    }
}

#[test]
fn resize_cubic_spec_cases() {
    let x = f32s(&[1, 1, 4, 4], (1..=16).map(|v| v as f32).collect());
    let up = Some(vec![1., 1., 2., 2.]);
    let y = resize(cubic("half_pixel", None, false), &x, up.clone(), None);
    assert_eq!(y.shape(), [1, 1, 8, 8]);
    close(
        &values(&y)[..8],
        &[
            0.47265625, 0.76953125, 1.2460938, 1.875, 2.28125, 2.9101562, 3.3867188, 3.6835938,
        ],
    );
    let y = resize(cubic("align_corners", None, false), &x, up.clone(), None);
    close(
        &values(&y)[..8],
        &[
            1.0, 1.3411079, 1.8002915, 2.329446, 2.670554, 3.1997085, 3.658892, 4.0,
        ],
    );
    let y = resize(cubic("half_pixel", Some(-0.5), true), &x, up, None);
    close(
        &values(&y)[..8],
        &[
            0.5588235, 0.81494204, 1.3569825, 1.8970588, 2.3970588, 2.9371352, 3.479_176, 3.735_294,
        ],
    );
    let y = resize(
        cubic("half_pixel", None, false),
        &x,
        Some(vec![1., 1., 0.8, 0.8]),
        None,
    );
    close(
        &values(&y),
        &[
            1.4711914, 2.78125, 4.0825195, 6.711426, 8.021484, 9.322754, 11.916504, 13.226562,
            14.527832,
        ],
    );
}
