//! Conv, ConvTranspose and pooling kernels against naive direct loops on
//! randomized shapes (fixed seed), plus thread-count determinism.

use crate::common::{assert_close, data, f32s, indices, offset, run1, Lcg};
use wdq_exec::TensorValue;
use wdq_ir::op::{ConvAttrs, PoolAttrs};
use wdq_ir::Op;

struct Geometry {
    strides: Vec<usize>,
    dilations: Vec<usize>,
    pads: Vec<usize>,
}

fn ints(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

fn naive_conv(
    x: &TensorValue,
    w: &TensorValue,
    b: Option<&[f32]>,
    group: usize,
    g: &Geometry,
) -> (Vec<usize>, Vec<f32>) {
    let (xs, ws) = (x.shape().to_vec(), w.shape().to_vec());
    let (xd, wd) = (data(x), data(w));
    let r = xs.len() - 2;
    let out: Vec<usize> = (0..r)
        .map(|i| {
            (xs[2 + i] + g.pads[i] + g.pads[i + r] - ((ws[2 + i] - 1) * g.dilations[i] + 1))
                / g.strides[i]
                + 1
        })
        .collect();
    let (m_all, cg) = (ws[0], ws[1]);
    let mg = m_all / group;
    let mut shape = vec![xs[0], m_all];
    shape.extend(&out);
    let mut y = vec![0.0f32; shape.iter().product()];
    for idx in indices(&shape) {
        let (n, m) = (idx[0], idx[1]);
        let grp = m / mg;
        let mut sum = b.map_or(0.0, |b| b[m]);
        for ci in 0..cg {
            for k in indices(&ws[2..]) {
                let mut pos = vec![n, grp * cg + ci];
                let mut inside = true;
                for i in 0..r {
                    let p = (idx[2 + i] * g.strides[i] + k[i] * g.dilations[i]) as i64
                        - g.pads[i] as i64;
                    inside &= p >= 0 && (p as usize) < xs[2 + i];
                    pos.push(p.max(0) as usize);
                }
                if inside {
                    let mut wpos = vec![m, ci];
                    wpos.extend(&k);
                    sum += xd[offset(&pos, &xs)] * wd[offset(&wpos, &ws)];
                }
            }
        }
        let o = offset(&idx, &shape);
        y[o] = sum;
    }
    (shape, y)
}

fn random_geometry(rng: &mut Lcg, r: usize, kernel: &[usize]) -> Geometry {
    let strides = (0..r).map(|_| rng.range(1, 3)).collect();
    let dilations = (0..r).map(|_| rng.range(1, 2)).collect();
    let pads = (0..2 * r)
        .map(|i| rng.range(0, kernel[i % r].min(3) - 1 + 1).min(2))
        .collect();
    Geometry {
        strides,
        dilations,
        pads,
    }
}

#[test]
fn conv_matches_naive_on_random_shapes() {
    let mut rng = Lcg(42);
    for case in 0..60 {
        let r = 1 + case % 3;
        let group = [1, 2, 0][rng.range(0, 2)];
        let cg = if group == 0 { 1 } else { rng.range(1, 4) };
        let group = if group == 0 { rng.range(2, 5) } else { group };
        let mult = rng.range(1, 3);
        let kernel: Vec<usize> = (0..r).map(|_| rng.range(1, 3)).collect();
        let g = random_geometry(&mut rng, r, &kernel);
        let mut xs = vec![rng.range(1, 3), cg * group];
        for i in 0..r {
            let need = (kernel[i] - 1) * g.dilations[i] + 1;
            xs.push(need + rng.range(0, if r == 3 { 3 } else { 7 }));
        }
        let mut ws = vec![group * mult, cg];
        ws.extend(&kernel);
        let (x, w) = (rng.tensor(&xs), rng.tensor(&ws));
        let bias = rng.vec(group * mult);
        let b = f32s(&[group * mult], bias.clone());
        let with_bias = case % 4 != 0;
        let attrs = ConvAttrs {
            group: Some(group as i64),
            strides: Some(ints(&g.strides)),
            dilations: Some(ints(&g.dilations)),
            pads: Some(ints(&g.pads)),
            kernel_shape: (case % 2 == 0).then(|| ints(&kernel)),
            ..Default::default()
        };
        let inputs = if with_bias {
            vec![Some(&x), Some(&w), Some(&b)]
        } else {
            vec![Some(&x), Some(&w)]
        };
        let got = run1(&Op::Conv(attrs), 13, &inputs);
        let (shape, want) = naive_conv(&x, &w, with_bias.then_some(&bias[..]), group, &g);
        assert_close(
            &got,
            &shape,
            &want,
            1e-5,
            &format!("conv case {case} x {xs:?} w {ws:?}"),
        );
    }
}

#[test]
fn conv_pointwise_and_auto_pad() {
    let mut rng = Lcg(5);
    let x = rng.tensor(&[2, 6, 5, 7]);
    let w = rng.tensor(&[4, 6, 1, 1]);
    let got = run1(&Op::Conv(ConvAttrs::default()), 13, &[Some(&x), Some(&w)]);
    let flat = Geometry {
        strides: vec![1, 1],
        dilations: vec![1, 1],
        pads: vec![0; 4],
    };
    let (shape, want) = naive_conv(&x, &w, None, 1, &flat);
    assert_close(&got, &shape, &want, 1e-5, "pointwise");
    let w3 = rng.tensor(&[4, 6, 3, 3]);
    let x = rng.tensor(&[2, 6, 6, 8]);
    for (mode, pads) in [
        ("SAME_UPPER", vec![0, 0, 1, 1]),
        ("SAME_LOWER", vec![1, 1, 0, 0]),
        ("VALID", vec![0; 4]),
    ] {
        let attrs = ConvAttrs {
            auto_pad: Some(mode.into()),
            strides: Some(vec![2, 2]),
            ..Default::default()
        };
        let got = run1(&Op::Conv(attrs), 13, &[Some(&x), Some(&w3)]);
        let g = Geometry {
            strides: vec![2, 2],
            dilations: vec![1, 1],
            pads,
        };
        let (shape, want) = naive_conv(&x, &w3, None, 1, &g);
        assert_close(&got, &shape, &want, 1e-5, mode);
    }
}

#[test]
fn conv_same_width_rows_match_naive() {
    // Unit strides with output rows as wide as input rows take a shifted-copy im2col.
    let mut rng = Lcg(31);
    for (kernel, dil, pads) in [
        (vec![3, 3], vec![1, 1], vec![1, 1, 1, 1]),
        (vec![3, 3], vec![2, 2], vec![2, 2, 2, 2]),
        (vec![3, 5], vec![1, 1], vec![0, 0, 2, 4]),
        (vec![5, 3], vec![1, 2], vec![3, 2, 1, 2]),
        (vec![1, 3], vec![1, 1], vec![0, 2, 0, 0]),
        (vec![3], vec![1], vec![1, 1]),
    ] {
        let r = kernel.len();
        let mut xs = vec![2, 3];
        xs.extend((0..r).map(|i| 5 + i));
        let mut ws = vec![4, 3];
        ws.extend(&kernel);
        let (x, w) = (rng.tensor(&xs), rng.tensor(&ws));
        let attrs = ConvAttrs {
            dilations: Some(ints(&dil)),
            pads: Some(ints(&pads)),
            ..Default::default()
        };
        let got = run1(&Op::Conv(attrs), 13, &[Some(&x), Some(&w)]);
        let g = Geometry {
            strides: vec![1; r],
            dilations: dil.clone(),
            pads: pads.clone(),
        };
        let (shape, want) = naive_conv(&x, &w, None, 1, &g);
        assert_close(
            &got,
            &shape,
            &want,
            1e-5,
            &format!("same-width conv k {kernel:?} d {dil:?} p {pads:?}"),
        );
    }
}

#[test]
fn conv_large_planes_split_into_unaligned_tiles() {
    // 64 channels x 3x3 on 37x37 exceeds one im2col tile; tiles end mid-row.
    let mut rng = Lcg(17);
    let x = rng.tensor(&[1, 64, 37, 37]);
    let w = rng.tensor(&[2, 64, 3, 3]);
    for (dil, pads, strides) in [(1, 1, 1), (2, 2, 1), (1, 0, 1), (1, 1, 2)] {
        let attrs = ConvAttrs {
            dilations: Some(vec![dil; 2]),
            pads: Some(vec![pads; 4]),
            strides: Some(vec![strides; 2]),
            ..Default::default()
        };
        let got = run1(&Op::Conv(attrs), 13, &[Some(&x), Some(&w)]);
        let g = Geometry {
            strides: vec![strides as usize; 2],
            dilations: vec![dil as usize; 2],
            pads: vec![pads as usize; 4],
        };
        let (shape, want) = naive_conv(&x, &w, None, 1, &g);
        assert_close(
            &got,
            &shape,
            &want,
            1e-4,
            &format!("large plane d {dil} p {pads} s {strides}"),
        );
    }
    // Rows wider than a tile: a tile can end before the first valid row.
    let x = rng.tensor(&[1, 64, 3, 1000]);
    let attrs = ConvAttrs {
        pads: Some(vec![1; 4]),
        ..Default::default()
    };
    let got = run1(&Op::Conv(attrs), 13, &[Some(&x), Some(&w)]);
    let g = Geometry {
        strides: vec![1; 2],
        dilations: vec![1; 2],
        pads: vec![1; 4],
    };
    let (shape, want) = naive_conv(&x, &w, None, 1, &g);
    assert_close(&got, &shape, &want, 1e-4, "rows wider than a tile");
}

#[test]
fn depthwise_strides_dilations_and_multipliers() {
    let mut rng = Lcg(23);
    for (stride, dil, pads, mult, width) in [
        (1, 1, 1, 1, 33),
        (2, 1, 1, 1, 34),
        (3, 2, 2, 2, 40),
        (2, 2, 0, 1, 19),
        (1, 3, 3, 2, 17),
    ] {
        let x = rng.tensor(&[2, 3, 7, width]);
        let w = rng.tensor(&[3 * mult, 1, 3, 3]);
        let b = rng.vec(3 * mult);
        let attrs = ConvAttrs {
            group: Some(3),
            strides: Some(vec![stride; 2]),
            dilations: Some(vec![dil; 2]),
            pads: Some(vec![pads; 4]),
            ..Default::default()
        };
        let bias = f32s(&[3 * mult], b.clone());
        let got = run1(&Op::Conv(attrs), 13, &[Some(&x), Some(&w), Some(&bias)]);
        let g = Geometry {
            strides: vec![stride as usize; 2],
            dilations: vec![dil as usize; 2],
            pads: vec![pads as usize; 4],
        };
        let (shape, want) = naive_conv(&x, &w, Some(&b), 3, &g);
        assert_close(
            &got,
            &shape,
            &want,
            1e-5,
            &format!("depthwise s {stride} d {dil} m {mult}"),
        );
    }
}

#[test]
fn conv_rejects_bad_input_without_panicking() {
    let mut rng = Lcg(1);
    let x = rng.tensor(&[1, 3, 4, 4]);
    let w = rng.tensor(&[2, 2, 3, 3]);
    let conv = Op::Conv(ConvAttrs::default());
    let ctx = wdq_exec::KernelContext { opset: 13 };
    assert!(wdq_exec::run_op(&conv, ctx, &[Some(&x), Some(&w)]).is_err());
    let big = rng.tensor(&[2, 3, 9, 9]);
    assert!(wdq_exec::run_op(&conv, ctx, &[Some(&x), Some(&big)]).is_err());
    assert!(wdq_exec::run_op(&conv, ctx, &[Some(&x)]).is_err());
    let bad = Op::Conv(ConvAttrs {
        strides: Some(vec![0, 1]),
        ..Default::default()
    });
    let w_ok = rng.tensor(&[2, 3, 3, 3]);
    assert!(wdq_exec::run_op(&bad, ctx, &[Some(&x), Some(&w_ok)]).is_err());
}

fn naive_conv_transpose(
    x: &TensorValue,
    w: &TensorValue,
    group: usize,
    g: &Geometry,
    adj: &[usize],
) -> (Vec<usize>, Vec<f32>) {
    let (xs, ws) = (x.shape().to_vec(), w.shape().to_vec());
    let (xd, wd) = (data(x), data(w));
    let r = xs.len() - 2;
    let (cig, cog) = (xs[1] / group, ws[1]);
    let out: Vec<usize> = (0..r)
        .map(|i| {
            g.strides[i] * (xs[2 + i] - 1) + adj[i] + (ws[2 + i] - 1) * g.dilations[i] + 1
                - g.pads[i]
                - g.pads[i + r]
        })
        .collect();
    let mut shape = vec![xs[0], cog * group];
    shape.extend(&out);
    let mut y = vec![0.0f32; shape.iter().product()];
    for idx in indices(&xs) {
        let (n, c) = (idx[0], idx[1]);
        let grp = c / cig;
        for co in 0..cog {
            for k in indices(&ws[2..]) {
                let mut pos = vec![n, grp * cog + co];
                let mut inside = true;
                for i in 0..r {
                    let p = (idx[2 + i] * g.strides[i] + k[i] * g.dilations[i]) as i64
                        - g.pads[i] as i64;
                    inside &= p >= 0 && (p as usize) < out[i];
                    pos.push(p.max(0) as usize);
                }
                if inside {
                    let mut wpos = vec![c, co];
                    wpos.extend(&k);
                    let o = offset(&pos, &shape);
                    y[o] += xd[offset(&idx, &xs)] * wd[offset(&wpos, &ws)];
                }
            }
        }
    }
    (shape, y)
}

#[test]
fn conv_transpose_matches_naive_on_random_shapes() {
    let mut rng = Lcg(9);
    for case in 0..40 {
        let r = 1 + case % 3;
        let group = rng.range(1, 2);
        let (cig, cog) = (rng.range(1, 3), rng.range(1, 3));
        let kernel: Vec<usize> = (0..r).map(|_| rng.range(1, 3)).collect();
        let g = random_geometry(&mut rng, r, &kernel);
        let adj: Vec<usize> = (0..r)
            .map(|i| rng.range(0, g.strides[i].max(g.dilations[i]) - 1))
            .collect();
        let mut xs = vec![rng.range(1, 2), cig * group];
        xs.extend((0..r).map(|_| rng.range(2, 4)));
        let mut ws = vec![cig * group, cog];
        ws.extend(&kernel);
        let full_ok = (0..r).all(|i| {
            g.strides[i] * (xs[2 + i] - 1) + adj[i] + (kernel[i] - 1) * g.dilations[i] + 1
                > g.pads[i] + g.pads[i + r]
        });
        if !full_ok {
            continue;
        }
        let (x, w) = (rng.tensor(&xs), rng.tensor(&ws));
        let attrs = ConvAttrs {
            group: Some(group as i64),
            strides: Some(ints(&g.strides)),
            dilations: Some(ints(&g.dilations)),
            pads: Some(ints(&g.pads)),
            output_padding: Some(ints(&adj)),
            ..Default::default()
        };
        let got = run1(&Op::ConvTranspose(attrs), 13, &[Some(&x), Some(&w)]);
        let (shape, want) = naive_conv_transpose(&x, &w, group, &g, &adj);
        assert_close(
            &got,
            &shape,
            &want,
            1e-5,
            &format!("conv_transpose case {case} x {xs:?} w {ws:?}"),
        );
    }
}

fn naive_pool(
    x: &TensorValue,
    kernel: &[usize],
    g: &Geometry,
    ceil: bool,
    max: bool,
    include_pad: bool,
) -> (Vec<usize>, Vec<f32>) {
    let xs = x.shape().to_vec();
    let xd = data(x);
    let r = kernel.len();
    let out: Vec<usize> = (0..r)
        .map(|i| {
            let span = (kernel[i] - 1) * g.dilations[i] + 1;
            let padded = xs[2 + i] + g.pads[i] + g.pads[i + r] - span;
            let mut o = if ceil {
                padded.div_ceil(g.strides[i]) + 1
            } else {
                padded / g.strides[i] + 1
            };
            if ceil && (o - 1) * g.strides[i] >= xs[2 + i] + g.pads[i] {
                o -= 1;
            }
            o
        })
        .collect();
    let mut shape = xs[..2].to_vec();
    shape.extend(&out);
    let mut y = vec![0.0f32; shape.iter().product()];
    for idx in indices(&shape) {
        let (mut best, mut sum, mut valid, mut padded) = (f32::MIN, 0.0f32, 0usize, 0usize);
        for k in indices(kernel) {
            let mut pos = idx[..2].to_vec();
            let (mut inside, mut in_padded) = (true, true);
            for i in 0..r {
                let p =
                    (idx[2 + i] * g.strides[i] + k[i] * g.dilations[i]) as i64 - g.pads[i] as i64;
                inside &= p >= 0 && (p as usize) < xs[2 + i];
                in_padded &= p < (xs[2 + i] + g.pads[i + r]) as i64;
                pos.push(p.max(0) as usize);
            }
            padded += in_padded as usize;
            if inside {
                let v = xd[offset(&pos, &xs)];
                best = best.max(v);
                sum += v;
                valid += 1;
            }
        }
        let count = if include_pad { padded } else { valid };
        let o = offset(&idx, &shape);
        y[o] = if max { best } else { sum / count as f32 };
    }
    (shape, y)
}

#[test]
fn pools_match_naive_on_random_shapes() {
    let mut rng = Lcg(77);
    for case in 0..60 {
        let r = 1 + case % 3;
        let kernel: Vec<usize> = (0..r).map(|_| rng.range(1, 3)).collect();
        let mut g = random_geometry(&mut rng, r, &kernel);
        for i in 0..2 * r {
            g.pads[i] = g.pads[i].min(kernel[i % r] - 1);
        }
        let max = case % 2 == 0;
        if !max {
            g.dilations = vec![1; r];
        }
        let (ceil, include_pad) = (rng.range(0, 1) == 1, rng.range(0, 1) == 1);
        let mut xs = vec![rng.range(1, 2), rng.range(1, 3)];
        xs.extend((0..r).map(|i| (kernel[i] - 1) * g.dilations[i] + 1 + rng.range(0, 5)));
        let x = rng.tensor(&xs);
        let attrs = PoolAttrs {
            kernel_shape: Some(ints(&kernel)),
            strides: Some(ints(&g.strides)),
            dilations: Some(ints(&g.dilations)),
            pads: Some(ints(&g.pads)),
            ceil_mode: Some(ceil as i64),
            count_include_pad: Some(include_pad as i64),
            ..Default::default()
        };
        let op = if max {
            Op::MaxPool(attrs)
        } else {
            Op::AveragePool(attrs)
        };
        let got = run1(&op, 13, &[Some(&x)]);
        let (shape, want) = naive_pool(&x, &kernel, &g, ceil, max, include_pad);
        assert_close(
            &got,
            &shape,
            &want,
            1e-5,
            &format!("pool case {case} x {xs:?} k {kernel:?}"),
        );
    }
}

#[test]
fn global_pools() {
    let x = f32s(&[1, 2, 2, 2], vec![1., 2., 3., 4., -1., -2., -3., -8.]);
    let avg = run1(&Op::GlobalAveragePool, 13, &[Some(&x)]);
    assert_close(&avg, &[1, 2, 1, 1], &[2.5, -3.5], 1e-6, "gap");
    let max = run1(&Op::GlobalMaxPool, 13, &[Some(&x)]);
    assert_close(&max, &[1, 2, 1, 1], &[4.0, -1.0], 1e-6, "gmp");
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let mut rng = Lcg(3);
    let x = rng.tensor(&[3, 16, 20, 20]);
    let w = rng.tensor(&[32, 16, 3, 3]);
    let dw = rng.tensor(&[16, 1, 3, 3]);
    let a = rng.tensor(&[2, 300, 200]);
    let b = rng.tensor(&[200, 150]);
    // Small planes: several batch items per matrix product.
    let small = rng.tensor(&[40, 16, 8, 8]);
    let run = || {
        let conv = ConvAttrs {
            pads: Some(vec![1; 4]),
            ..Default::default()
        };
        let depthwise = ConvAttrs {
            group: Some(16),
            ..Default::default()
        };
        [
            data(&run1(&Op::Conv(conv.clone()), 13, &[Some(&x), Some(&w)])),
            data(&run1(&Op::Conv(depthwise), 13, &[Some(&x), Some(&dw)])),
            data(&run1(&Op::MatMul, 13, &[Some(&a), Some(&b)])),
            data(&run1(
                &Op::Conv(conv.clone()),
                13,
                &[Some(&small), Some(&w)],
            )),
        ]
    };
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let one = pool(1).install(run);
    let many = pool(5).install(run);
    for (p, q) in one.iter().zip(&many) {
        assert!(p.iter().zip(q).all(|(u, v)| u.to_bits() == v.to_bits()));
    }
}
