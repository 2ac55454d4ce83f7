//! Data-movement kernels on spec examples: Transpose, Concat, Split, Slice
//! (clamping, negative steps, opset 9 attributes) and Gather.

use crate::common::{data as values, f32s, i64s, iota, one, run_all as exec};
use ndarray::{ArrayD, IxDyn};
use wdq_exec::tensor_ops::{run, run_with_outputs};
use wdq_exec::{KernelContext, KernelError, TensorValue};
use wdq_ir::op::*;
use wdq_ir::Op;

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
