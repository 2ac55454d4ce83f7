//! Shape and data-movement kernels on spec examples: Flatten, Reshape,
//! Squeeze, Unsqueeze, Shape, ConstantOfShape, Expand, Range, Constant,
//! Transpose, Concat, Split, Slice, Gather, Tile, Identity, Dropout.

use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;
use wdq_exec::tensor_ops::{run, run_with_outputs};
use wdq_exec::{KernelContext, KernelError, TensorValue};
use wdq_ir::op::*;
use wdq_ir::{Op, Tensor};

fn f32s(shape: &[usize], v: Vec<f32>) -> TensorValue {
    TensorValue::F32(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
}
fn i64s(shape: &[usize], v: Vec<i64>) -> TensorValue {
    TensorValue::I64(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
}
fn iota(shape: &[usize]) -> TensorValue {
    let n: usize = shape.iter().product();
    f32s(shape, (0..n).map(|i| i as f32).collect())
}
fn exec(
    op: Op,
    opset: i64,
    inputs: &[Option<&TensorValue>],
) -> Result<Vec<TensorValue>, KernelError> {
    Ok(run(&op, KernelContext { opset }, inputs)?
        .into_iter()
        .flatten()
        .collect())
}
fn one(op: Op, opset: i64, inputs: &[&TensorValue]) -> TensorValue {
    let ins: Vec<_> = inputs.iter().map(|v| Some(*v)).collect();
    exec(op, opset, &ins).unwrap().remove(0)
}
fn values(v: &TensorValue) -> Vec<f32> {
    v.as_f32().unwrap().iter().copied().collect()
}

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

#[test]
fn transpose_and_concat() {
    let x = iota(&[2, 3, 4]);
    let y = one(Op::Transpose(TransposeAttrs::default()), 13, &[&x]);
    assert_eq!(y.shape(), [4, 3, 2]);
    assert_eq!(values(&y)[..4], [0.0, 12.0, 4.0, 16.0]);
    let y = one(
        Op::Transpose(TransposeAttrs {
            perm: Some(vec![1, 0, 2]),
        }),
        13,
        &[&x],
    );
    assert_eq!(y.shape(), [3, 2, 4]);
    assert_eq!(values(&y)[4..8], [12.0, 13.0, 14.0, 15.0]);
    let bad = Op::Transpose(TransposeAttrs {
        perm: Some(vec![0, 0, 1]),
    });
    assert!(exec(bad, 13, &[Some(&x)]).is_err());

    let a = f32s(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]);
    let b = f32s(&[2, 2], vec![5.0, 6.0, 7.0, 8.0]);
    let y = one(Op::Concat(AxisAttrs { axis: Some(0) }), 13, &[&a, &b]);
    assert_eq!(values(&y), [1., 2., 3., 4., 5., 6., 7., 8.]);
    let y = one(Op::Concat(AxisAttrs { axis: Some(-1) }), 13, &[&a, &b]);
    assert_eq!(values(&y), [1., 2., 5., 6., 3., 4., 7., 8.]);
    let empty = f32s(&[2, 0], vec![]);
    assert_eq!(
        one(Op::Concat(AxisAttrs { axis: Some(1) }), 13, &[&a, &empty]),
        a
    );
    let c = f32s(&[1, 3], vec![0.0; 3]);
    assert!(exec(
        Op::Concat(AxisAttrs { axis: Some(0) }),
        13,
        &[Some(&a), Some(&c)]
    )
    .is_err());
    let i = i64s(&[2, 2], vec![0; 4]);
    assert!(exec(
        Op::Concat(AxisAttrs { axis: Some(0) }),
        13,
        &[Some(&a), Some(&i)]
    )
    .is_err());
}

#[test]
fn split_forms() {
    let x = f32s(&[6], vec![1., 2., 3., 4., 5., 6.]);
    let ctx = KernelContext { opset: 13 };
    let out =
        run_with_outputs(&Op::Split(SplitAttrs::default()), ctx, &[Some(&x)], Some(3)).unwrap();
    let got: Vec<Vec<f32>> = out.iter().map(|v| values(v.as_ref().unwrap())).collect();
    assert_eq!(got, [vec![1., 2.], vec![3., 4.], vec![5., 6.]]);
    // Without the output count an equal split cannot be resolved.
    assert!(run(&Op::Split(SplitAttrs::default()), ctx, &[Some(&x)]).is_err());
    let sizes = i64s(&[2], vec![2, 4]);
    let out = exec(
        Op::Split(SplitAttrs::default()),
        13,
        &[Some(&x), Some(&sizes)],
    )
    .unwrap();
    assert_eq!(values(&out[1]), [3., 4., 5., 6.]);
    let attr = Op::Split(SplitAttrs {
        split: Some(vec![1, 5]),
        ..Default::default()
    });
    assert_eq!(exec(attr, 11, &[Some(&x)]).unwrap()[1].shape(), [5]);
    let x7 = f32s(&[7], (1..=7).map(|v| v as f32).collect());
    let uneven = Op::Split(SplitAttrs {
        num_outputs: Some(4),
        ..Default::default()
    });
    let shapes: Vec<Vec<usize>> = exec(uneven, 18, &[Some(&x7)])
        .unwrap()
        .iter()
        .map(|v| v.shape().to_vec())
        .collect();
    assert_eq!(shapes, [vec![2], vec![2], vec![2], vec![1]]);
    let bad = i64s(&[2], vec![2, 5]);
    assert!(exec(
        Op::Split(SplitAttrs::default()),
        13,
        &[Some(&x), Some(&bad)]
    )
    .is_err());
    let m = iota(&[2, 4]);
    let axis1 = Op::Split(SplitAttrs {
        axis: Some(1),
        num_outputs: Some(2),
        ..Default::default()
    });
    let out = exec(axis1, 18, &[Some(&m)]).unwrap();
    assert_eq!(values(&out[1]), [2., 3., 6., 7.]);
}

fn slice(
    x: &TensorValue,
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<TensorValue, KernelError> {
    let s = i64s(&[starts.len()], starts.to_vec());
    let e = i64s(&[ends.len()], ends.to_vec());
    let a = axes.map(|a| i64s(&[a.len()], a.to_vec()));
    let st = steps.map(|a| i64s(&[a.len()], a.to_vec()));
    Ok(exec(
        Op::Slice(SliceAttrs::default()),
        13,
        &[Some(x), Some(&s), Some(&e), a.as_ref(), st.as_ref()],
    )?
    .remove(0))
}

#[test]
fn slice_spec_cases() {
    let x = iota(&[20, 10, 5]);
    assert_eq!(
        slice(&x, &[0, 0], &[3, 10], Some(&[0, 1]), Some(&[1, 1]))
            .unwrap()
            .shape(),
        [3, 10, 5]
    );
    let y = slice(
        &x,
        &[20, 10, 4],
        &[0, 0, 1],
        Some(&[0, 1, 2]),
        Some(&[-1, -3, -2]),
    )
    .unwrap();
    assert_eq!(y.shape(), [19, 3, 2]);
    // x[19, 9, 4] then x[19, 9, 2], x[19, 6, 4]
    assert_eq!(
        values(&y)[..3],
        [
            19. * 50. + 9. * 5. + 4.,
            19. * 50. + 9. * 5. + 2.,
            19. * 50. + 6. * 5. + 4.
        ]
    );
    assert_eq!(
        slice(&x, &[1000], &[1000], Some(&[1]), None)
            .unwrap()
            .shape(),
        [20, 0, 5]
    );
    assert_eq!(
        slice(&x, &[1], &[1000], Some(&[1]), None).unwrap().shape(),
        [20, 9, 5]
    );
    assert_eq!(
        slice(&x, &[0], &[-1], Some(&[1]), None).unwrap().shape(),
        [20, 9, 5]
    );
    assert_eq!(
        slice(&x, &[-1], &[i64::MIN], Some(&[1]), Some(&[-1]))
            .unwrap()
            .shape(),
        [20, 10, 5]
    );
    assert_eq!(
        slice(&x, &[0, 0, 3], &[20, 10, 4], None, None)
            .unwrap()
            .shape(),
        [20, 10, 1]
    );
    let v = f32s(&[5], vec![0., 1., 2., 3., 4.]);
    assert_eq!(
        values(&slice(&v, &[-1], &[-6], None, Some(&[-2])).unwrap()),
        [4., 2., 0.]
    );
    assert!(slice(&x, &[0], &[1], Some(&[0]), Some(&[0])).is_err());
    assert!(slice(&x, &[0], &[1], Some(&[3]), None).is_err());
    // opset 1-9: attributes
    let op = Op::Slice(SliceAttrs {
        starts: Some(vec![1, 0]),
        ends: Some(vec![2, 3]),
        axes: None,
    });
    assert_eq!(one(op, 9, &[&x]).shape(), [1, 3, 5]);
}

#[test]
fn gather_cases() {
    let data = f32s(&[3, 2], vec![1.0, 1.2, 2.3, 3.4, 4.5, 5.7]);
    let idx = i64s(&[2, 2], vec![0, 1, 1, 2]);
    let y = one(Op::Gather(AxisAttrs { axis: Some(0) }), 13, &[&data, &idx]);
    assert_eq!(y.shape(), [2, 2, 2]);
    assert_eq!(values(&y), [1.0, 1.2, 2.3, 3.4, 2.3, 3.4, 4.5, 5.7]);
    let data = f32s(&[3, 3], vec![1.0, 1.2, 1.9, 2.3, 3.4, 3.9, 4.5, 5.7, 5.9]);
    let idx = TensorValue::I32(ArrayD::from_shape_vec(IxDyn(&[1, 2]), vec![0, 2]).unwrap());
    let y = one(Op::Gather(AxisAttrs { axis: Some(1) }), 13, &[&data, &idx]);
    assert_eq!(y.shape(), [3, 1, 2]);
    assert_eq!(values(&y), [1.0, 1.9, 2.3, 3.9, 4.5, 5.9]);
    let neg = i64s(&[2], vec![-1, -3]);
    assert_eq!(
        values(&one(Op::Gather(AxisAttrs::default()), 13, &[&data, &neg]))[..3],
        [4.5, 5.7, 5.9]
    );
    let shape = i64s(&[4], vec![4, 8, 2, 2]);
    let y = one(
        Op::Gather(AxisAttrs { axis: Some(0) }),
        13,
        &[&shape, &i64s(&[], vec![0])],
    );
    assert_eq!(y, i64s(&[], vec![4]));
    let bools = TensorValue::Bool(ArrayD::from_shape_vec(IxDyn(&[2]), vec![true, false]).unwrap());
    assert_eq!(
        one(
            Op::Gather(AxisAttrs::default()),
            13,
            &[&bools, &i64s(&[1], vec![1])]
        )
        .shape(),
        [1]
    );
    for bad in [3, -4] {
        let r = exec(
            Op::Gather(AxisAttrs::default()),
            13,
            &[Some(&data), Some(&i64s(&[1], vec![bad]))],
        );
        assert!(matches!(r, Err(KernelError::Shape(_))), "{bad}");
    }
    assert!(exec(
        Op::Gather(AxisAttrs { axis: Some(2) }),
        13,
        &[Some(&data), Some(&neg)]
    )
    .is_err());
    assert!(exec(
        Op::Gather(AxisAttrs::default()),
        13,
        &[Some(&data), Some(&data)]
    )
    .is_err());
}
