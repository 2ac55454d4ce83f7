//! Pad, reductions, comparisons, Where, Not and Cast on spec examples.

use crate::common::{data as values, f32s, i64s};
use ndarray::{ArrayD, IxDyn};
use wdq_exec::tensor_ops::run;
use wdq_exec::{KernelContext, KernelError, TensorValue};
use wdq_ir::op::*;
use wdq_ir::Op;

fn bools(shape: &[usize], v: Vec<bool>) -> TensorValue {
    TensorValue::Bool(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
}
fn exec(op: &Op, opset: i64, inputs: &[Option<&TensorValue>]) -> Result<TensorValue, KernelError> {
    let mut out = run(op, KernelContext { opset }, inputs)?;
    Ok(out.remove(0).unwrap())
}
fn pad(mode: &str, x: &TensorValue, pads: Vec<i64>) -> Result<TensorValue, KernelError> {
    let op = Op::Pad(PadAttrs {
        mode: Some(mode.into()),
        ..Default::default()
    });
    let p = i64s(&[pads.len()], pads);
    exec(&op, 19, &[Some(x), Some(&p)])
}

#[test]
fn pad_modes() {
    let x = f32s(&[3, 2], vec![1.0, 1.2, 2.3, 3.4, 4.5, 5.7]);
    let y = pad("constant", &x, vec![0, 2, 0, 0]).unwrap();
    assert_eq!(
        values(&y),
        [0., 0., 1.0, 1.2, 0., 0., 2.3, 3.4, 0., 0., 4.5, 5.7]
    );
    let y = pad("reflect", &x, vec![0, 2, 0, 0]).unwrap();
    assert_eq!(
        values(&y),
        [1.0, 1.2, 1.0, 1.2, 2.3, 3.4, 2.3, 3.4, 4.5, 5.7, 4.5, 5.7]
    );
    let y = pad("edge", &x, vec![0, 2, 0, 0]).unwrap();
    assert_eq!(
        values(&y),
        [1.0, 1.0, 1.0, 1.2, 2.3, 2.3, 2.3, 3.4, 4.5, 4.5, 4.5, 5.7]
    );
    let y = pad("wrap", &x, vec![2, 1, 1, 1]).unwrap();
    assert_eq!(y.shape(), [6, 4]);
    assert_eq!(values(&y)[..8], [3.4, 2.3, 3.4, 2.3, 5.7, 4.5, 5.7, 4.5]);
    assert_eq!(values(&y)[20..], [1.2, 1.0, 1.2, 1.0]);
    let r = f32s(&[5], vec![0., 1., 2., 3., 4.]);
    assert_eq!(
        values(&pad("reflect", &r, vec![3, 2]).unwrap()),
        [3., 2., 1., 0., 1., 2., 3., 4., 3., 2.]
    );
    // Negative pads crop.
    assert_eq!(
        values(&pad("constant", &r, vec![-1, -2]).unwrap()),
        [1., 2.]
    );
    assert!(pad("constant", &r, vec![-4, -2]).is_err());
    assert!(pad("mirror", &r, vec![1, 1]).is_err());
    // Constant value input and opset 18 axes.
    let op = Op::Pad(PadAttrs::default());
    let y = exec(
        &op,
        18,
        &[
            Some(&x),
            Some(&i64s(&[2], vec![1, 0])),
            Some(&f32s(&[], vec![9.0])),
            Some(&i64s(&[1], vec![-1])),
        ],
    )
    .unwrap();
    assert_eq!(values(&y), [9., 1.0, 1.2, 9., 2.3, 3.4, 9., 4.5, 5.7]);
    // Opset 2 attributes, integer data.
    let op = Op::Pad(PadAttrs {
        mode: None,
        pads: Some(vec![1, 1]),
        value: Some(5.0),
    });
    assert_eq!(
        exec(&op, 2, &[Some(&i64s(&[1], vec![3]))]).unwrap(),
        i64s(&[3], vec![5, 3, 5])
    );
}

#[test]
fn reductions() {
    let data = f32s(
        &[3, 2, 2],
        vec![5., 1., 20., 2., 30., 1., 40., 2., 55., 1., 60., 2.],
    );
    let axes = i64s(&[1], vec![1]);
    let keep = ReduceAttrs {
        keepdims: Some(1),
        ..Default::default()
    };
    let y = exec(
        &Op::ReduceMean(keep.clone()),
        18,
        &[Some(&data), Some(&axes)],
    )
    .unwrap();
    assert_eq!(y.shape(), [3, 1, 2]);
    assert_eq!(values(&y), [12.5, 1.5, 35., 1.5, 57.5, 1.5]);
    let y = exec(
        &Op::ReduceSum(keep.clone()),
        13,
        &[Some(&data), Some(&axes)],
    )
    .unwrap();
    assert_eq!(values(&y), [25., 3., 70., 3., 115., 3.]);
    let y = exec(&Op::ReduceMax(keep), 18, &[Some(&data), Some(&axes)]).unwrap();
    assert_eq!(values(&y), [20., 2., 40., 2., 60., 2.]);
    let all = exec(&Op::ReduceMean(ReduceAttrs::default()), 18, &[Some(&data)]).unwrap();
    assert_eq!(all, f32s(&[1, 1, 1], vec![18.25]));
    let attr = ReduceAttrs {
        axes: Some(vec![-1, 0]),
        keepdims: Some(0),
        ..Default::default()
    };
    let y = exec(&Op::ReduceSum(attr.clone()), 11, &[Some(&data)]).unwrap();
    assert_eq!(values(&y), [93., 126.]);
    let y = exec(&Op::ReduceMean(attr), 13, &[Some(&data)]).unwrap();
    assert_eq!(y.shape(), [2]);
    let noop = ReduceAttrs {
        noop_with_empty_axes: Some(1),
        ..Default::default()
    };
    assert_eq!(
        exec(&Op::ReduceSum(noop), 13, &[Some(&data)]).unwrap(),
        data
    );
    let ints = i64s(&[2, 2], vec![1, 2, i64::MAX, 1]);
    let y = exec(
        &Op::ReduceMax(ReduceAttrs {
            keepdims: Some(0),
            ..Default::default()
        }),
        18,
        &[Some(&ints), Some(&i64s(&[1], vec![0]))],
    )
    .unwrap();
    assert_eq!(y, i64s(&[2], vec![i64::MAX, 2]));
    assert!(exec(
        &Op::ReduceSum(ReduceAttrs::default()),
        13,
        &[Some(&ints), Some(&i64s(&[1], vec![0]))]
    )
    .is_ok());
    assert!(exec(
        &Op::ReduceSum(ReduceAttrs::default()),
        13,
        &[Some(&data), Some(&i64s(&[1], vec![3]))]
    )
    .is_err());
}

#[test]
fn comparisons_where_not() {
    let a = f32s(&[2, 2], vec![1., 2., 3., 4.]);
    let b = f32s(&[2], vec![2., 3.]);
    let eq = exec(&Op::Equal, 13, &[Some(&a), Some(&b)]).unwrap();
    assert_eq!(eq, bools(&[2, 2], vec![false, false, false, false]));
    let gt = exec(&Op::Greater, 13, &[Some(&a), Some(&b)]).unwrap();
    assert_eq!(gt, bools(&[2, 2], vec![false, false, true, true]));
    let lt = exec(&Op::Less, 13, &[Some(&a), Some(&b)]).unwrap();
    assert_eq!(lt, bools(&[2, 2], vec![true, true, false, false]));
    let i = i64s(&[3], vec![1, 5, 3]);
    assert_eq!(
        exec(&Op::Equal, 13, &[Some(&i), Some(&i64s(&[], vec![3]))]).unwrap(),
        bools(&[3], vec![false, false, true])
    );
    let p = bools(&[2], vec![true, false]);
    assert_eq!(
        exec(&Op::Equal, 13, &[Some(&p), Some(&bools(&[1], vec![true]))]).unwrap(),
        p
    );
    assert!(exec(&Op::Equal, 13, &[Some(&a), Some(&i)]).is_err());
    assert!(exec(&Op::Less, 13, &[Some(&a), Some(&f32s(&[3], vec![0.; 3]))]).is_err());

    let c = bools(&[2, 2], vec![true, false, true, true]);
    let x = f32s(&[2, 2], vec![1., 2., 3., 4.]);
    let y = f32s(&[2, 2], vec![9., 8., 7., 6.]);
    assert_eq!(
        values(&exec(&Op::Where, 13, &[Some(&c), Some(&x), Some(&y)]).unwrap()),
        [1., 8., 3., 4.]
    );
    let row = bools(&[2], vec![false, true]);
    let w = exec(
        &Op::Where,
        13,
        &[
            Some(&row),
            Some(&f32s(&[], vec![1.])),
            Some(&f32s(&[3, 1], vec![0.; 3])),
        ],
    )
    .unwrap();
    assert_eq!(w.shape(), [3, 2]);
    assert_eq!(values(&w), [0., 1., 0., 1., 0., 1.]);
    assert!(exec(&Op::Where, 13, &[Some(&x), Some(&x), Some(&y)]).is_err());
    assert!(exec(&Op::Where, 13, &[Some(&c), Some(&x), Some(&i)]).is_err());

    assert_eq!(
        exec(&Op::Not, 13, &[Some(&p)]).unwrap(),
        bools(&[2], vec![false, true])
    );
    assert!(exec(&Op::Not, 13, &[Some(&x)]).is_err());
}

#[test]
fn casts() {
    let cast = |x: &TensorValue, to: i64| {
        exec(
            &Op::Cast(CastAttrs {
                to: Some(to),
                saturate: None,
            }),
            13,
            &[Some(x)],
        )
    };
    let x = f32s(&[5], vec![1.7, -1.7, 2.5, 300.0, 0.0]);
    let y = cast(&x, 6).unwrap();
    assert_eq!(
        y,
        TensorValue::I32(ArrayD::from_shape_vec(IxDyn(&[5]), vec![1, -1, 2, 300, 0]).unwrap())
    );
    assert_eq!(cast(&x, 7).unwrap(), i64s(&[5], vec![1, -1, 2, 300, 0]));
    assert_eq!(
        cast(&x, 9).unwrap(),
        bools(&[5], vec![true, true, true, true, false])
    );
    let b = bools(&[2], vec![true, false]);
    assert_eq!(cast(&b, 1).unwrap(), f32s(&[2], vec![1., 0.]));
    let big = i64s(&[2], vec![300, -1]);
    assert_eq!(
        cast(&big, 3).unwrap(),
        TensorValue::I8(ArrayD::from_shape_vec(IxDyn(&[2]), vec![44, -1]).unwrap())
    );
    assert_eq!(
        cast(&big, 2).unwrap(),
        TensorValue::U8(ArrayD::from_shape_vec(IxDyn(&[2]), vec![44, 255]).unwrap())
    );
    let d = cast(&x, 11).unwrap();
    assert_eq!(d.dtype(), wdq_ir::DType::F64);
    assert_eq!(cast(&d, 1).unwrap(), x);
    assert!(matches!(cast(&x, 10), Err(KernelError::Unsupported(_))));
    assert!(cast(&x, 99).is_err());
}
