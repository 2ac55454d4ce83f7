//! Shape kernels on spec examples: Flatten, Reshape, Squeeze, Unsqueeze,
//! Shape, ConstantOfShape, Expand, Tile, Range, Constant, Identity, Dropout.

use crate::common::{data as values, f32s, i64s, iota, one, run_all as exec};
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;
use wdq_exec::TensorValue;
use wdq_ir::op::*;
use wdq_ir::{Op, Tensor};

#[test]
fn flatten_axes() {
    let x = iota(&[2, 3, 4, 5]);
    for (axis, want) in [
        (0, [1, 120]),
        (1, [2, 60]),
        (2, [6, 20]),
        (-1, [24, 5]),
        (4, [120, 1]),
    ] {
        let y = one(Op::Flatten(AxisAttrs { axis: Some(axis) }), 13, &[&x]);
        assert_eq!(y.shape(), want, "axis {axis}");
    }
    let y = one(Op::Flatten(AxisAttrs::default()), 13, &[&x]);
    assert_eq!(y.shape(), [2, 60]);
    assert!(exec(Op::Flatten(AxisAttrs { axis: Some(5) }), 13, &[Some(&x)]).is_err());
}

#[test]
fn reshape_spec_cases() {
    let x = iota(&[2, 3, 4]);
    let cases: [(&[i64], &[usize]); 8] = [
        (&[4, 2, 3], &[4, 2, 3]),
        (&[2, 12], &[2, 12]),
        (&[2, 3, 1, 4], &[2, 3, 1, 4]),
        (&[24], &[24]),
        (&[2, -1, 2], &[2, 6, 2]),
        (&[-1, 2, 3, 4], &[1, 2, 3, 4]),
        (&[2, 0, 4, 1], &[2, 3, 4, 1]),
        (&[2, 0, 1, -1], &[2, 3, 1, 4]),
    ];
    for (spec, want) in cases {
        let s = i64s(&[spec.len()], spec.to_vec());
        let y = one(Op::Reshape(ReshapeAttrs::default()), 14, &[&x, &s]);
        assert_eq!(y.shape(), want, "{spec:?}");
        assert_eq!(values(&y), values(&x));
    }
    let zero = iota(&[0, 3, 4]);
    let s = i64s(&[3], vec![3, 4, 0]);
    let y = one(
        Op::Reshape(ReshapeAttrs {
            allowzero: Some(1),
            shape: None,
        }),
        14,
        &[&zero, &s],
    );
    assert_eq!(y.shape(), [3, 4, 0]);
    // opset < 5: the shape is an attribute.
    let y = one(
        Op::Reshape(ReshapeAttrs {
            allowzero: None,
            shape: Some(vec![6, -1]),
        }),
        4,
        &[&x],
    );
    assert_eq!(y.shape(), [6, 4]);
    for bad in [vec![5, -1], vec![-1, -1], vec![7, 0, 0, 0, 9]] {
        let s = i64s(&[bad.len()], bad);
        assert!(exec(
            Op::Reshape(ReshapeAttrs::default()),
            14,
            &[Some(&x), Some(&s)]
        )
        .is_err());
    }
}

#[test]
fn squeeze_and_unsqueeze() {
    let x = iota(&[1, 3, 1, 5]);
    let y = one(Op::Squeeze(AxesAttrs::default()), 13, &[&x]);
    assert_eq!(y.shape(), [3, 5]);
    let axes = i64s(&[1], vec![-2]);
    let y = one(Op::Squeeze(AxesAttrs::default()), 13, &[&x, &axes]);
    assert_eq!(y.shape(), [1, 3, 5]);
    let y = one(
        Op::Squeeze(AxesAttrs {
            axes: Some(vec![0]),
        }),
        11,
        &[&x],
    );
    assert_eq!(y.shape(), [3, 1, 5]);
    let not_one = i64s(&[1], vec![1]);
    assert!(exec(
        Op::Squeeze(AxesAttrs::default()),
        13,
        &[Some(&x), Some(&not_one)]
    )
    .is_err());

    let x = iota(&[3, 4, 5]);
    for (axes, want) in [
        (vec![-2], vec![3, 4, 1, 5]),
        (vec![1, 4], vec![3, 1, 4, 5, 1]),
        (vec![5, 4, 2], vec![3, 4, 1, 5, 1, 1]),
        (vec![0], vec![1, 3, 4, 5]),
    ] {
        let a = i64s(&[axes.len()], axes.clone());
        assert_eq!(
            one(Op::Unsqueeze(AxesAttrs::default()), 13, &[&x, &a]).shape(),
            want
        );
        let y = one(Op::Unsqueeze(AxesAttrs { axes: Some(axes) }), 11, &[&x]);
        assert_eq!(y.shape(), want);
    }
    let dup = i64s(&[2], vec![1, 1]);
    assert!(exec(
        Op::Unsqueeze(AxesAttrs::default()),
        13,
        &[Some(&x), Some(&dup)]
    )
    .is_err());
}

#[test]
fn shape_with_start_and_end() {
    let x = iota(&[2, 3, 4]);
    let s = |start, end| one(Op::Shape(ShapeAttrs { start, end }), 15, &[&x]);
    assert_eq!(s(None, None), i64s(&[3], vec![2, 3, 4]));
    assert_eq!(s(Some(1), None), i64s(&[2], vec![3, 4]));
    assert_eq!(s(None, Some(-1)), i64s(&[2], vec![2, 3]));
    assert_eq!(s(Some(-10), Some(10)), i64s(&[3], vec![2, 3, 4]));
    assert_eq!(s(Some(2), Some(1)), i64s(&[0], vec![]));
}

#[test]
fn constant_of_shape_expand_tile_range() {
    let shape = i64s(&[2], vec![2, 3]);
    let y = one(
        Op::ConstantOfShape(ConstantOfShapeAttrs::default()),
        13,
        &[&shape],
    );
    assert_eq!(y, f32s(&[2, 3], vec![0.0; 6]));
    let value = Arc::new(Tensor::from_i64(vec![1], vec![7]));
    let y = one(
        Op::ConstantOfShape(ConstantOfShapeAttrs { value: Some(value) }),
        13,
        &[&shape],
    );
    assert_eq!(y, i64s(&[2, 3], vec![7; 6]));

    let x = f32s(&[3, 1], vec![1.0, 2.0, 3.0]);
    let y = one(Op::Expand, 13, &[&x, &i64s(&[3], vec![2, 1, 6])]);
    assert_eq!(y.shape(), [2, 3, 6]);
    assert_eq!(values(&y)[..7], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0]);
    let y = one(Op::Expand, 13, &[&x, &i64s(&[2], vec![3, 4])]);
    assert_eq!(y.shape(), [3, 4]);
    assert!(exec(Op::Expand, 13, &[Some(&x), Some(&i64s(&[2], vec![2, 1]))]).is_err());

    let x = f32s(&[2, 2], vec![0.0, 1.0, 2.0, 3.0]);
    let y = one(Op::Tile, 13, &[&x, &i64s(&[2], vec![2, 2])]);
    let want = [
        0., 1., 0., 1., 2., 3., 2., 3., 0., 1., 0., 1., 2., 3., 2., 3.,
    ];
    assert_eq!(values(&y), want);
    assert!(exec(Op::Tile, 13, &[Some(&x), Some(&i64s(&[1], vec![2]))]).is_err());

    let r = |s: TensorValue, l: TensorValue, d: TensorValue| one(Op::Range, 11, &[&s, &l, &d]);
    let sc = |v: f32| f32s(&[], vec![v]);
    assert_eq!(r(sc(3.0), sc(1.0), sc(-2.0)), f32s(&[1], vec![3.0]));
    assert_eq!(r(sc(10.0), sc(4.0), sc(-3.0)), f32s(&[2], vec![10.0, 7.0]));
    let si = |v: i64| i64s(&[], vec![v]);
    assert_eq!(r(si(1), si(10), si(3)), i64s(&[3], vec![1, 4, 7]));
    assert_eq!(r(si(5), si(1), si(1)), i64s(&[0], vec![]));
    assert!(exec(Op::Range, 11, &[Some(&si(0)), Some(&si(1)), Some(&si(0))]).is_err());
    assert!(exec(Op::Range, 11, &[Some(&si(0)), Some(&sc(1.0)), Some(&si(1))]).is_err());
}

#[test]
fn constant_identity_dropout() {
    let attrs = ConstantAttrs {
        value_ints: Some(vec![1, 2]),
        ..Default::default()
    };
    assert_eq!(one(Op::Constant(attrs), 13, &[]), i64s(&[2], vec![1, 2]));
    let x = iota(&[2, 2]);
    assert_eq!(one(Op::Identity, 13, &[&x]), x);
    let out = exec(Op::Dropout(DropoutAttrs::default()), 13, &[Some(&x)]).unwrap();
    assert_eq!(out[0], x);
    assert_eq!(
        out[1],
        TensorValue::Bool(ArrayD::from_elem(IxDyn(&[2, 2]), true))
    );
}
