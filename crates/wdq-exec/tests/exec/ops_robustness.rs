//! Tensor-op kernels never panic on bad input: every op of the family is
//! run on combinations of small odd operands (wrong ranks, types, negative
//! and out-of-range values, empty tensors, missing inputs) and must answer
//! with a value or a `KernelError`.

use ndarray::{ArrayD, IxDyn};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use wdq_exec::tensor_ops::run_with_outputs;
use wdq_exec::{KernelContext, TensorValue};
use wdq_ir::op::*;
use wdq_ir::{Op, Tensor};

fn pool() -> Vec<TensorValue> {
    let f =
        |s: &[usize], v: Vec<f32>| TensorValue::F32(ArrayD::from_shape_vec(IxDyn(s), v).unwrap());
    let i =
        |s: &[usize], v: Vec<i64>| TensorValue::I64(ArrayD::from_shape_vec(IxDyn(s), v).unwrap());
    vec![
        f(&[], vec![2.5]),
        f(&[2, 3], vec![1., -2., 3., 0., 5., f32::NAN]),
        f(&[1, 2, 2, 2], vec![0.5; 8]),
        f(&[0, 3], vec![]),
        i(&[], vec![-1]),
        i(&[2], vec![2, -1]),
        i(&[4], vec![0, 1, -3, 7]),
        i(&[3], vec![1, 0, 2]),
        TensorValue::Bool(ArrayD::from_shape_vec(IxDyn(&[2, 1]), vec![true, false]).unwrap()),
        TensorValue::U8(ArrayD::from_shape_vec(IxDyn(&[3]), vec![0, 128, 255]).unwrap()),
        TensorValue::I4(ArrayD::from_shape_vec(IxDyn(&[2]), vec![-8, 7]).unwrap()),
    ]
}

fn ops() -> Vec<Op> {
    let axes = |v: Vec<i64>| AxesAttrs { axes: Some(v) };
    vec![
        Op::Identity,
        Op::Dropout(DropoutAttrs::default()),
        Op::Flatten(AxisAttrs { axis: Some(-1) }),
        Op::Flatten(AxisAttrs { axis: Some(9) }),
        Op::Reshape(ReshapeAttrs::default()),
        Op::Reshape(ReshapeAttrs {
            allowzero: Some(1),
            shape: None,
        }),
        Op::Transpose(TransposeAttrs::default()),
        Op::Transpose(TransposeAttrs {
            perm: Some(vec![1, 0]),
        }),
        Op::Concat(AxisAttrs { axis: Some(1) }),
        Op::Concat(AxisAttrs::default()),
        Op::Split(SplitAttrs::default()),
        Op::Split(SplitAttrs {
            axis: Some(1),
            num_outputs: Some(0),
            ..Default::default()
        }),
        Op::Split(SplitAttrs {
            split: Some(vec![-1, 4]),
            ..Default::default()
        }),
        Op::Slice(SliceAttrs::default()),
        Op::Slice(SliceAttrs {
            starts: Some(vec![5]),
            ends: Some(vec![-9]),
            axes: Some(vec![3]),
        }),
        Op::Squeeze(AxesAttrs::default()),
        Op::Squeeze(axes(vec![7])),
        Op::Unsqueeze(AxesAttrs::default()),
        Op::Unsqueeze(axes(vec![0, 0])),
        Op::Pad(PadAttrs::default()),
        Op::Pad(PadAttrs {
            mode: Some("reflect".into()),
            ..Default::default()
        }),
        Op::Pad(PadAttrs {
            mode: Some("edge".into()),
            pads: Some(vec![1, -5]),
            value: None,
        }),
        Op::Pad(PadAttrs {
            mode: Some("wrap".into()),
            ..Default::default()
        }),
        Op::Gather(AxisAttrs::default()),
        Op::Gather(AxisAttrs { axis: Some(-3) }),
        Op::Resize(ResizeAttrs::default()),
        Op::Resize(ResizeAttrs {
            mode: Some("linear".into()),
            ..Default::default()
        }),
        Op::Resize(ResizeAttrs {
            keep_aspect_ratio_policy: Some("not_larger".into()),
            axes: Some(vec![1]),
            ..Default::default()
        }),
        Op::ReduceMean(ReduceAttrs::default()),
        Op::ReduceSum(ReduceAttrs {
            keepdims: Some(0),
            ..Default::default()
        }),
        Op::ReduceMax(ReduceAttrs {
            axes: Some(vec![5]),
            ..Default::default()
        }),
        Op::Where,
        Op::Equal,
        Op::Greater,
        Op::Less,
        Op::Not,
        Op::Cast(CastAttrs {
            to: Some(6),
            saturate: None,
        }),
        Op::Cast(CastAttrs {
            to: Some(-3),
            saturate: None,
        }),
        Op::Shape(ShapeAttrs {
            start: Some(i64::MIN),
            end: Some(i64::MAX),
        }),
        Op::ConstantOfShape(ConstantOfShapeAttrs::default()),
        Op::ConstantOfShape(ConstantOfShapeAttrs {
            value: Some(Arc::new(Tensor::from_f32(vec![0], vec![]))),
        }),
        Op::Expand,
        Op::Tile,
        Op::Range,
        Op::Constant(ConstantAttrs::default()),
        Op::QuantizeLinear(QdqAttrs::default()),
        Op::QuantizeLinear(QdqAttrs {
            axis: Some(-9),
            output_dtype: Some(99),
            ..Default::default()
        }),
        Op::DequantizeLinear(QdqAttrs::default()),
        Op::DequantizeLinear(QdqAttrs {
            axis: Some(0),
            block_size: Some(2),
            ..Default::default()
        }),
    ]
}

#[test]
fn no_tensor_op_panics_on_odd_operands() {
    let pool = pool();
    let mut choices: Vec<Option<&TensorValue>> = vec![None];
    choices.extend(pool.iter().map(Some));
    let mut calls = 0;
    for op in ops() {
        for opset in [9, 13, 18] {
            let ctx = KernelContext { opset };
            for a in &choices {
                for b in &choices {
                    for c in &choices {
                        let inputs = [*a, *b, *c, *b];
                        for len in [1, 2, 3, 4] {
                            let r = catch_unwind(AssertUnwindSafe(|| {
                                run_with_outputs(&op, ctx, &inputs[..len], Some(2))
                            }));
                            assert!(
                                r.is_ok(),
                                "{op:?} opset {opset} panicked on {:?}",
                                &inputs[..len]
                            );
                            calls += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(calls > 10_000);
}
