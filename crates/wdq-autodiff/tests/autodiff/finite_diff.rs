//! Layer, pooling and normalisation rules against central finite
//! differences on randomized shapes (see `fd_harness` for the tolerance).

use crate::common::Lcg;
use crate::fd_harness::{away, check_op, distinct, rand, In};
use wdq_ir::op::{AxisAttrs, BatchNormAttrs, ConvAttrs, GemmAttrs, LayerNormAttrs, PoolAttrs};
use wdq_ir::{Op, Tensor};

#[test]
fn conv_grouped_strided_dilated_padded() {
    let mut rng = Lcg(1);
    for case in 0..12 {
        let group = [1, 2, 3][case % 3];
        let depthwise = case % 4 == 3;
        let cin = if depthwise {
            4
        } else {
            group * rng.range(1, 2)
        };
        let group = if depthwise { cin } else { group };
        let cout = group * rng.range(1, 2);
        let (kh, kw) = (rng.range(1, 3), rng.range(1, 3));
        let stride = vec![rng.range(1, 2) as i64, rng.range(1, 2) as i64];
        let dil = vec![rng.range(1, 2) as i64, rng.range(1, 2) as i64];
        let pads: Vec<i64> = (0..4).map(|_| rng.range(0, 2) as i64).collect();
        let (h, w) = (rng.range(5, 7), rng.range(4, 7));
        let attrs = ConvAttrs {
            group: Some(group as i64),
            strides: Some(stride),
            dilations: Some(dil),
            pads: Some(pads),
            ..ConvAttrs::default()
        };
        let inputs = [
            rand(&mut rng, &[2, cin, h, w]),
            rand(&mut rng, &[cout, cin / group, kh, kw]),
            rand(&mut rng, &[cout]),
        ];
        check_op(&format!("Conv case {case}"), Op::Conv(attrs), 13, &inputs);
    }
}

#[test]
fn conv_1d_3d_and_same_padding() {
    let mut rng = Lcg(2);
    let attrs = ConvAttrs {
        strides: Some(vec![2]),
        pads: Some(vec![1, 0]),
        ..ConvAttrs::default()
    };
    let inputs = [
        rand(&mut rng, &[2, 3, 9]),
        rand(&mut rng, &[4, 3, 3]),
        In::Absent,
    ];
    check_op("Conv 1-D", Op::Conv(attrs), 13, &inputs);
    let attrs = ConvAttrs {
        auto_pad: Some("SAME_UPPER".into()),
        strides: Some(vec![2, 1, 2]),
        ..ConvAttrs::default()
    };
    let inputs = [
        rand(&mut rng, &[1, 2, 3, 4, 5]),
        rand(&mut rng, &[2, 2, 2, 2, 3]),
        rand(&mut rng, &[2]),
    ];
    check_op("Conv 3-D SAME_UPPER", Op::Conv(attrs), 13, &inputs);
    let pointwise = [
        rand(&mut rng, &[2, 4, 3, 3]),
        rand(&mut rng, &[5, 4, 1, 1]),
        rand(&mut rng, &[5]),
    ];
    check_op("Conv 1x1", Op::Conv(ConvAttrs::default()), 13, &pointwise);
}

#[test]
fn conv_transpose_grouped_strided_padded() {
    let mut rng = Lcg(3);
    for case in 0..6 {
        let group = [1, 2][case % 2];
        let cin = group * rng.range(1, 2);
        let cout_g = rng.range(1, 2);
        let attrs = ConvAttrs {
            group: Some(group as i64),
            strides: Some(vec![rng.range(1, 3) as i64, rng.range(1, 2) as i64]),
            dilations: Some(vec![rng.range(1, 2) as i64, 1]),
            pads: Some(vec![rng.range(0, 1) as i64, 0, rng.range(0, 1) as i64, 1]),
            output_padding: Some(vec![case as i64 % 2, 0]),
            ..ConvAttrs::default()
        };
        let inputs = [
            rand(&mut rng, &[2, cin, 3, 4]),
            rand(&mut rng, &[cin, cout_g, 3, 2]),
            rand(&mut rng, &[cout_g * group]),
        ];
        check_op(
            &format!("ConvTranspose case {case}"),
            Op::ConvTranspose(attrs),
            13,
            &inputs,
        );
    }
}

#[test]
fn conv_transpose_output_shape_and_auto_pad() {
    let mut rng = Lcg(33);
    let shaped = ConvAttrs {
        strides: Some(vec![2, 2]),
        output_shape: Some(vec![8, 7]),
        ..ConvAttrs::default()
    };
    let same = ConvAttrs {
        strides: Some(vec![2, 1]),
        auto_pad: Some("SAME_UPPER".into()),
        ..ConvAttrs::default()
    };
    for (what, attrs) in [("output_shape", shaped), ("SAME_UPPER", same)] {
        let inputs = [
            rand(&mut rng, &[2, 2, 4, 3]),
            rand(&mut rng, &[2, 3, 3, 3]),
            In::Absent,
        ];
        check_op(
            &format!("ConvTranspose {what}"),
            Op::ConvTranspose(attrs),
            13,
            &inputs,
        );
    }
}

#[test]
fn gemm_every_flag() {
    let mut rng = Lcg(4);
    let (m, k, n) = (3, 4, 5);
    for ta in [0, 1] {
        for tb in [0, 1] {
            for (ci, c_shape) in [vec![n], vec![m, n], vec![1, n], vec![]]
                .into_iter()
                .enumerate()
            {
                let attrs = GemmAttrs {
                    alpha: Some(0.5 + ci as f32),
                    beta: Some(if ci == 2 { 1.0 } else { 1.5 }),
                    trans_a: Some(ta),
                    trans_b: Some(tb),
                };
                let a = if ta == 1 { [k, m] } else { [m, k] };
                let b = if tb == 1 { [n, k] } else { [k, n] };
                let inputs = [
                    rand(&mut rng, &a),
                    rand(&mut rng, &b),
                    rand(&mut rng, &c_shape),
                ];
                check_op(
                    &format!("Gemm tA{ta} tB{tb} C{c_shape:?}"),
                    Op::Gemm(attrs),
                    13,
                    &inputs,
                );
            }
        }
    }
}

#[test]
fn matmul_broadcast_and_vectors() {
    let mut rng = Lcg(5);
    for (a, b) in [
        (vec![3, 4], vec![4, 2]),
        (vec![2, 3, 4], vec![4, 5]),
        (vec![4], vec![4, 3]),
        (vec![3, 4], vec![4]),
        (vec![2, 1, 3, 4], vec![3, 4, 2]),
        (vec![1, 3, 4], vec![2, 4, 2]),
    ] {
        let inputs = [rand(&mut rng, &a), rand(&mut rng, &b)];
        check_op(&format!("MatMul {a:?} x {b:?}"), Op::MatMul, 13, &inputs);
    }
}

#[test]
fn pools_with_overlap_padding_and_ceil_mode() {
    let mut rng = Lcg(6);
    for case in 0..8 {
        let attrs = PoolAttrs {
            kernel_shape: Some(vec![rng.range(2, 3) as i64, rng.range(1, 3) as i64]),
            strides: Some(vec![rng.range(1, 2) as i64, rng.range(1, 2) as i64]),
            pads: Some(vec![1, 0, rng.range(0, 1) as i64, 1]),
            ceil_mode: Some((case % 2) as i64),
            count_include_pad: Some(((case / 2) % 2) as i64),
            ..PoolAttrs::default()
        };
        let x = distinct(&mut rng, &[2, 2, 6, 5], 0.05);
        check_op(
            &format!("MaxPool case {case}"),
            Op::MaxPool(attrs.clone()),
            13,
            &[x],
        );
        let mut avg = attrs;
        avg.storage_order = None;
        let x = rand(&mut rng, &[2, 2, 6, 5]);
        check_op(
            &format!("AveragePool case {case}"),
            Op::AveragePool(avg),
            13,
            &[x],
        );
    }
    let x = distinct(&mut rng, &[2, 3, 4, 3], 0.05);
    check_op("GlobalMaxPool", Op::GlobalMaxPool, 13, &[x]);
    let x = rand(&mut rng, &[2, 3, 4, 3]);
    check_op("GlobalAveragePool", Op::GlobalAveragePool, 13, &[x]);
}

#[test]
fn batch_norm_frozen_and_layer_norm() {
    let mut rng = Lcg(7);
    let c = 3;
    let mean = Tensor::from_f32(vec![c], rng.vec(c));
    let var = Tensor::from_f32(vec![c], rng.vec(c).iter().map(|v| v.abs() + 0.5).collect());
    let attrs = BatchNormAttrs {
        epsilon: Some(1e-3),
        ..BatchNormAttrs::default()
    };
    let inputs = [
        rand(&mut rng, &[2, c, 3, 2]),
        rand(&mut rng, &[c]),
        rand(&mut rng, &[c]),
        In::Const(mean),
        In::Const(var),
    ];
    check_op(
        "BatchNormalization",
        Op::BatchNormalization(attrs),
        13,
        &inputs,
    );
    for (axis, shape) in [(-1i64, vec![3, 5]), (1, vec![2, 3, 4])] {
        let attrs = LayerNormAttrs {
            axis: Some(axis),
            ..LayerNormAttrs::default()
        };
        let norm: Vec<usize> = shape[(axis.rem_euclid(shape.len() as i64)) as usize..].to_vec();
        let inputs = [
            rand(&mut rng, &shape),
            rand(&mut rng, &norm),
            rand(&mut rng, &norm),
        ];
        check_op(
            &format!("LayerNormalization axis {axis}"),
            Op::LayerNormalization(attrs),
            17,
            &inputs,
        );
    }
}

#[test]
fn softmax_and_log_softmax_both_opset_semantics() {
    let mut rng = Lcg(8);
    for opset in [11, 13] {
        for axis in [1i64, -1] {
            let a = AxisAttrs { axis: Some(axis) };
            let x = away(&mut rng, &[2, 3, 4], 2.0, &[], 0.0);
            check_op(
                &format!("Softmax opset {opset} axis {axis}"),
                Op::Softmax(a.clone()),
                opset,
                &[x],
            );
            let x = away(&mut rng, &[2, 3, 4], 2.0, &[], 0.0);
            check_op(
                &format!("LogSoftmax opset {opset} axis {axis}"),
                Op::LogSoftmax(a),
                opset,
                &[x],
            );
        }
    }
}
