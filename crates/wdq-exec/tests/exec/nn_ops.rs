//! Matrix products, broadcasting arithmetic, activations, softmax and
//! normalisation kernels against naive references and hand-computed values.

use crate::common::{assert_close, data, f32s, i64s, indices, offset, run1, strides, Lcg};
use wdq_exec::{KernelContext, TensorValue};
use wdq_ir::op::{ActivationAttrs, BatchNormAttrs, ClipAttrs, GemmAttrs, LayerNormAttrs};
use wdq_ir::Op;

fn naive_matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    c
}

/// Element of `v` (shape `shape`) read at broadcast index `idx` of rank >= its own.
fn at(v: &[f32], shape: &[usize], idx: &[usize]) -> f32 {
    let skip = idx.len() - shape.len();
    let st = strides(shape);
    v[(0..shape.len())
        .map(|i| {
            if shape[i] == 1 {
                0
            } else {
                idx[skip + i] * st[i]
            }
        })
        .sum::<usize>()]
}

#[test]
fn matmul_numpy_semantics() {
    let mut rng = Lcg(21);
    let cases: [(&[usize], &[usize], &[usize]); 6] = [
        (&[3, 4], &[4, 5], &[3, 5]),
        (&[2, 3, 4], &[2, 4, 5], &[2, 3, 5]),
        (&[2, 1, 3, 4], &[3, 4, 5], &[2, 3, 3, 5]),
        (&[4], &[2, 4, 5], &[2, 5]),
        (&[2, 3, 4], &[4], &[2, 3]),
        (&[2, 3, 8], &[8, 6], &[2, 3, 6]),
    ];
    for (sa, sb, so) in cases {
        let (a, b) = (rng.tensor(sa), rng.tensor(sb));
        let got = run1(&Op::MatMul, 13, &[Some(&a), Some(&b)]);
        let (ad, bd) = (data(&a), data(&b));
        let mut a2 = sa.to_vec();
        if a2.len() == 1 {
            a2.insert(0, 1);
        }
        let mut b2 = sb.to_vec();
        if b2.len() == 1 {
            b2.push(1);
        }
        let (m, k, n) = (a2[a2.len() - 2], a2[a2.len() - 1], b2[b2.len() - 1]);
        let mut want = vec![0.0; so.iter().product()];
        let batch: Vec<usize> =
            so[..so.len() - (sa.len() > 1) as usize - (sb.len() > 1) as usize].to_vec();
        for bi in indices(&batch) {
            let pick = |v: &[f32], s: &[usize], rows: usize, cols: usize| -> Vec<f32> {
                let bs = &s[..s.len() - 2];
                let skip = bi.len() - bs.len();
                let idx: Vec<usize> = (0..bs.len())
                    .map(|i| if bs[i] == 1 { 0 } else { bi[skip + i] })
                    .collect();
                let o = if bs.is_empty() { 0 } else { offset(&idx, bs) };
                v[o * rows * cols..(o + 1) * rows * cols].to_vec()
            };
            let c = naive_matmul(&pick(&ad, &a2, m, k), &pick(&bd, &b2, k, n), m, k, n);
            let o = if batch.is_empty() {
                0
            } else {
                offset(&bi, &batch)
            };
            want[o * m * n..(o + 1) * m * n].copy_from_slice(&c);
        }
        assert_close(&got, so, &want, 1e-5, &format!("matmul {sa:?} x {sb:?}"));
    }
}

#[test]
fn gemm_transposes_alpha_beta_and_bias_broadcast() {
    let mut rng = Lcg(8);
    let (m, k, n) = (3, 5, 4);
    for (ta, tb, alpha, beta, c_shape) in [
        (0, 0, 1.0, 1.0, vec![n]),
        (1, 0, 1.0, 1.0, vec![1, n]),
        (0, 1, 0.5, 2.0, vec![m, 1]),
        (1, 1, 2.0, 0.5, vec![]),
        (0, 0, 2.0, 1.0, vec![m, n]),
    ] {
        let a = rng.tensor(&if ta == 1 { [k, m] } else { [m, k] });
        let b = rng.tensor(&if tb == 1 { [n, k] } else { [k, n] });
        let c = rng.tensor(&c_shape);
        let attrs = GemmAttrs {
            alpha: Some(alpha),
            beta: Some(beta),
            trans_a: Some(ta),
            trans_b: Some(tb),
        };
        let got = run1(&Op::Gemm(attrs), 13, &[Some(&a), Some(&b), Some(&c)]);
        let (ad, bd, cd) = (data(&a), data(&b), data(&c));
        let mut want = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let dot: f32 = (0..k)
                    .map(|p| {
                        let x = if ta == 1 {
                            ad[p * m + i]
                        } else {
                            ad[i * k + p]
                        };
                        let y = if tb == 1 {
                            bd[j * k + p]
                        } else {
                            bd[p * n + j]
                        };
                        x * y
                    })
                    .sum();
                want[i * n + j] = alpha * dot + beta * at(&cd, &c_shape, &[i, j]);
            }
        }
        assert_close(
            &got,
            &[m, n],
            &want,
            1e-5,
            &format!("gemm ta {ta} tb {tb} c {c_shape:?}"),
        );
    }
    let a = rng.tensor(&[m, k]);
    let b = rng.tensor(&[k, n]);
    let got = run1(
        &Op::Gemm(GemmAttrs {
            alpha: Some(2.0),
            ..Default::default()
        }),
        13,
        &[Some(&a), Some(&b)],
    );
    let want: Vec<f32> = naive_matmul(&data(&a), &data(&b), m, k, n)
        .iter()
        .map(|v| 2.0 * v)
        .collect();
    assert_close(&got, &[m, n], &want, 1e-5, "gemm without C");
}

/// A reference for a binary op.
type BinaryFn = fn(f32, f32) -> f32;

#[test]
fn arithmetic_broadcasts_like_numpy() {
    let mut rng = Lcg(4);
    let pairs: [(&[usize], &[usize]); 6] = [
        (&[2, 3, 4], &[2, 3, 4]),
        (&[2, 3, 4, 5], &[5]),
        (&[2, 3, 4, 5], &[3, 1, 1]),
        (&[3, 1], &[1, 4]),
        (&[], &[2, 3]),
        (&[4, 1, 3], &[2, 1]),
    ];
    let ops: [(Op, BinaryFn); 6] = [
        (Op::Add, |x, y| x + y),
        (Op::Sub, |x, y| x - y),
        (Op::Mul, |x, y| x * y),
        (Op::Div, |x, y| x / y),
        (Op::Max, f32::max),
        (Op::Min, f32::min),
    ];
    for (sa, sb) in pairs {
        let (a, b) = (rng.tensor(sa), rng.tensor(sb));
        for (op, f) in &ops {
            let got = run1(op, 13, &[Some(&a), Some(&b)]);
            let shape = got.shape().to_vec();
            let (ad, bd) = (data(&a), data(&b));
            let want: Vec<f32> = indices(&shape)
                .iter()
                .map(|i| f(at(&ad, sa, i), at(&bd, sb, i)))
                .collect();
            assert_close(
                &got,
                &shape,
                &want,
                1e-6,
                &format!("{} {sa:?} {sb:?}", op.op_type()),
            );
        }
    }
    let three = [
        rng.tensor(&[2, 3, 4]),
        rng.tensor(&[3, 4]),
        rng.tensor(&[2, 1, 1]),
    ];
    let got = run1(
        &Op::Max,
        13,
        &[Some(&three[0]), Some(&three[1]), Some(&three[2])],
    );
    let d: Vec<Vec<f32>> = three.iter().map(data).collect();
    let want: Vec<f32> = indices(&[2, 3, 4])
        .iter()
        .map(|i| {
            at(&d[0], &[2, 3, 4], i)
                .max(at(&d[1], &[3, 4], i))
                .max(at(&d[2], &[2, 1, 1], i))
        })
        .collect();
    assert_close(&got, &[2, 3, 4], &want, 0.0, "max of three");
    let base = f32s(&[3], vec![1.5, -2.0, 3.0]);
    let got = run1(&Op::Pow, 13, &[Some(&base), Some(&i64s(&[], vec![2]))]);
    assert_close(
        &got,
        &[3],
        &[2.25, 4.0, 9.0],
        1e-6,
        "pow with an integer exponent",
    );
    let got = run1(
        &Op::Pow,
        13,
        &[
            Some(&f32s(&[2], vec![4.0, 9.0])),
            Some(&f32s(&[], vec![0.5])),
        ],
    );
    assert_close(&got, &[2], &[2.0, 3.0], 1e-6, "pow 0.5");
}

#[test]
fn integer_arithmetic_for_shape_math() {
    let a = i64s(&[3], vec![6, -7, 8]);
    let b = i64s(&[], vec![2]);
    let ctx = KernelContext { opset: 13 };
    let get = |op: Op, x: &TensorValue, y: &TensorValue| -> Vec<i64> {
        let v = wdq_exec::run_op(&op, ctx, &[Some(x), Some(y)])
            .unwrap()
            .remove(0)
            .unwrap();
        v.as_i64().unwrap().iter().copied().collect()
    };
    assert_eq!(get(Op::Add, &a, &b), vec![8, -5, 10]);
    assert_eq!(get(Op::Mul, &a, &b), vec![12, -14, 16]);
    assert_eq!(get(Op::Div, &a, &b), vec![3, -3, 4]);
    assert_eq!(get(Op::Min, &a, &b), vec![2, -7, 2]);
    let a32 = TensorValue::I32(ndarray::ArrayD::from_shape_vec(vec![2], vec![7, -9]).unwrap());
    let b32 = TensorValue::I32(ndarray::ArrayD::from_shape_vec(vec![], vec![4]).unwrap());
    let q = wdq_exec::run_op(&Op::Div, ctx, &[Some(&a32), Some(&b32)])
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(
        q,
        TensorValue::I32(ndarray::ArrayD::from_shape_vec(vec![2], vec![1, -2]).unwrap())
    );
    let zero = i64s(&[], vec![0]);
    assert!(wdq_exec::run_op(&Op::Div, ctx, &[Some(&a), Some(&zero)]).is_err());
    let f = f32s(&[1], vec![1.0]);
    assert!(wdq_exec::run_op(&Op::Add, ctx, &[Some(&a), Some(&f)]).is_err());
    assert!(wdq_exec::run_op(
        &Op::Add,
        ctx,
        &[
            Some(&f32s(&[2], vec![0.0; 2])),
            Some(&f32s(&[3], vec![0.0; 3]))
        ]
    )
    .is_err());
}

#[test]
fn activations_match_formulas() {
    let xs = vec![-3.0f32, -1.0, -0.25, 0.0, 0.5, 2.0, 4.0];
    let x = f32s(&[7], xs.clone());
    let act = |alpha: Option<f32>, beta: Option<f32>, approximate: Option<&str>| ActivationAttrs {
        alpha,
        beta,
        approximate: approximate.map(String::from),
    };
    let check = |op: Op, f: &dyn Fn(f64) -> f64, opset: i64| {
        let got = run1(&op, opset, &[Some(&x)]);
        let want: Vec<f32> = xs.iter().map(|&v| f(v as f64) as f32).collect();
        assert_close(&got, &[7], &want, 2e-6, op.op_type());
    };
    check(Op::Relu, &|v| v.max(0.0), 13);
    check(
        Op::LeakyRelu(act(None, None, None)),
        &|v| if v < 0.0 { 0.01 * v } else { v },
        13,
    );
    check(Op::Sigmoid, &|v| 1.0 / (1.0 + (-v).exp()), 13);
    check(Op::Tanh, &f64::tanh, 13);
    check(
        Op::HardSigmoid(act(None, None, None)),
        &|v| (0.2 * v + 0.5).clamp(0.0, 1.0),
        13,
    );
    check(Op::HardSwish, &|v| v * (v / 6.0 + 0.5).clamp(0.0, 1.0), 14);
    let erf_values = [
        -0.9999779095030014,
        -0.8427007929497149,
        -0.2763263901682369,
        0.0,
        0.5204998778130465,
        0.9953222650189527,
        0.9999999845827421,
    ];
    let got = run1(&Op::Erf, 13, &[Some(&x)]);
    assert_close(&got, &[7], &erf_values.map(|v| v as f32), 1e-6, "erf");
    let gelu: Vec<f32> = xs.iter().zip(&erf_values).map(|(&v, _)| v).collect();
    let got = run1(&Op::Gelu(act(None, None, Some("none"))), 20, &[Some(&x)]);
    let sqrt_half = [
        -0.9973002039,
        -0.6826894921,
        -0.1974126325,
        0.0,
        0.3829249225,
        0.9544997361,
        0.9999366575,
    ];
    let want: Vec<f32> = gelu
        .iter()
        .zip(sqrt_half)
        .map(|(&v, e)| 0.5 * v * (1.0 + e as f32))
        .collect();
    assert_close(&got, &[7], &want, 1e-6, "gelu");
    check(
        Op::Gelu(act(None, None, Some("tanh"))),
        &|v| {
            0.5 * v
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).tanh())
        },
        20,
    );
    check(Op::Exp, &f64::exp, 13);
    check(Op::Neg, &|v| -v, 13);
    check(Op::Abs, &f64::abs, 13);
    check(Op::Floor, &f64::floor, 13);
    check(Op::Ceil, &f64::ceil, 13);
    check(
        Op::Clip(ClipAttrs {
            min: Some(-1.0),
            max: Some(1.5),
        }),
        &|v| v.clamp(-1.0, 1.5),
        6,
    );
    let lo = f32s(&[], vec![0.0]);
    let hi = f32s(&[], vec![6.0]);
    let got = run1(
        &Op::Clip(ClipAttrs::default()),
        13,
        &[Some(&x), Some(&lo), Some(&hi)],
    );
    assert_close(
        &got,
        &[7],
        &xs.iter().map(|v| v.clamp(0.0, 6.0)).collect::<Vec<_>>(),
        0.0,
        "relu6",
    );
    let got = run1(
        &Op::Clip(ClipAttrs::default()),
        13,
        &[Some(&x), None, Some(&hi)],
    );
    assert_close(
        &got,
        &[7],
        &xs.iter().map(|v| v.min(6.0)).collect::<Vec<_>>(),
        0.0,
        "clip max only",
    );
    let slope = f32s(&[1], vec![0.25]);
    let got = run1(&Op::PRelu, 13, &[Some(&x), Some(&slope)]);
    assert_close(
        &got,
        &[7],
        &xs.iter()
            .map(|&v| if v < 0.0 { 0.25 * v } else { v })
            .collect::<Vec<_>>(),
        0.0,
        "prelu",
    );
}

#[test]
fn normalisations() {
    let x = f32s(&[1, 2, 2], vec![1.0, 3.0, -2.0, 2.0]);
    let ch = |a: f32, b: f32| f32s(&[2], vec![a, b]);
    let (scale, bias, mean, var) = (ch(2.0, 1.0), ch(0.5, -1.0), ch(2.0, 0.0), ch(3.0, 0.25));
    let attrs = BatchNormAttrs {
        epsilon: Some(1.0),
        ..Default::default()
    };
    let got = run1(
        &Op::BatchNormalization(attrs),
        15,
        &[Some(&x), Some(&scale), Some(&bias), Some(&mean), Some(&var)],
    );
    let want = [
        2.0 * (1.0 - 2.0) / 2.0 + 0.5,
        2.0 * (3.0 - 2.0) / 2.0 + 0.5,
        -2.0 / 1.25f32.sqrt() - 1.0,
        2.0 / 1.25f32.sqrt() - 1.0,
    ];
    assert_close(&got, &[1, 2, 2], &want, 1e-6, "batchnorm");

    let mut rng = Lcg(12);
    let x = rng.tensor(&[2, 3, 4]);
    let scale = rng.tensor(&[3, 4]);
    let bias = rng.tensor(&[4]);
    let attrs = LayerNormAttrs {
        axis: Some(-2),
        epsilon: Some(1e-3),
        ..Default::default()
    };
    let mut out = wdq_exec::run_op(
        &Op::LayerNormalization(attrs),
        KernelContext { opset: 17 },
        &[Some(&x), Some(&scale), Some(&bias)],
    )
    .unwrap();
    let (xd, sd, bd) = (data(&x), data(&scale), data(&bias));
    let mut want = vec![0.0; 24];
    let mut means = vec![0.0; 2];
    for n in 0..2 {
        let row = &xd[n * 12..(n + 1) * 12];
        let mean = row.iter().sum::<f32>() / 12.0;
        let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 12.0;
        means[n] = mean;
        for j in 0..12 {
            want[n * 12 + j] = (row[j] - mean) / (var + 1e-3).sqrt() * sd[j] + bd[j % 4];
        }
    }
    assert_close(
        out[0].as_ref().unwrap(),
        &[2, 3, 4],
        &want,
        1e-5,
        "layernorm",
    );
    assert_close(
        out.remove(1).as_ref().unwrap(),
        &[2, 1, 1],
        &means,
        1e-6,
        "layernorm mean",
    );
}

#[test]
fn softmax_old_and_new_opsets() {
    let mut rng = Lcg(6);
    let x = rng.tensor(&[2, 3, 4]);
    let xd = data(&x);
    let attrs = wdq_ir::op::AxisAttrs { axis: Some(1) };
    let got = run1(&Op::Softmax(attrs.clone()), 13, &[Some(&x)]);
    let mut want = vec![0.0; 24];
    for n in 0..2 {
        for w in 0..4 {
            let sum: f32 = (0..3).map(|c| xd[n * 12 + c * 4 + w].exp()).sum();
            for c in 0..3 {
                want[n * 12 + c * 4 + w] = xd[n * 12 + c * 4 + w].exp() / sum;
            }
        }
    }
    assert_close(&got, &[2, 3, 4], &want, 1e-6, "softmax opset 13 axis 1");
    let got = run1(&Op::LogSoftmax(attrs), 11, &[Some(&x)]);
    let mut want = vec![0.0; 24];
    for n in 0..2 {
        let sum: f32 = xd[n * 12..(n + 1) * 12].iter().map(|v| v.exp()).sum();
        for j in 0..12 {
            want[n * 12 + j] = xd[n * 12 + j] - sum.ln();
        }
    }
    assert_close(
        &got,
        &[2, 3, 4],
        &want,
        1e-6,
        "logsoftmax opset 11 coerced to 2-D",
    );
}
