//! Bit-exactness against onnxruntime: `data/reference.npz` holds the outputs
//! of QuantizeLinear/DequantizeLinear models run in onnxruntime (written by
//! `gen_reference.py`); these tests recompute them and compare bit for bit.

use std::fs::File;

use ndarray::{Array1, ArrayD};
use ndarray_npy::NpzReader;
use wdq_quant::linear::{fake_quantize_value, quantize_value};
use wdq_quant::{
    dequantize, dequantize_bias, fake_quantize, fake_quantize_slice, pack_int4, pack_uint4,
    quantize, unpack_int4, unpack_uint4, QuantParams, QuantSpec,
};

const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference.npz");

struct Case {
    name: String,
    x: ArrayD<f32>,
    params: QuantParams,
    q: ArrayD<i32>,
    y: ArrayD<f32>,
}

fn reader() -> NpzReader<File> {
    NpzReader::new(File::open(REFERENCE).expect("reference.npz is committed")).expect("valid npz")
}

fn cases() -> Vec<Case> {
    let mut npz = reader();
    let mut names: Vec<String> = npz
        .names()
        .unwrap()
        .into_iter()
        .filter_map(|n| n.strip_suffix("_x").map(str::to_owned))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let get_f = |npz: &mut NpzReader<File>, k: &str| -> ArrayD<f32> {
                npz.by_name(&format!("{name}_{k}")).unwrap()
            };
            let get_i = |npz: &mut NpzReader<File>, k: &str| -> ArrayD<i32> {
                npz.by_name(&format!("{name}_{k}")).unwrap()
            };
            let x = get_f(&mut npz, "x");
            let y = get_f(&mut npz, "y");
            let q = get_i(&mut npz, "q");
            let scales: Array1<f32> = npz.by_name(&format!("{name}_scale")).unwrap();
            let zps: Array1<i32> = npz.by_name(&format!("{name}_zp")).unwrap();
            let meta: Array1<i32> = npz.by_name(&format!("{name}_meta")).unwrap();
            let spec = QuantSpec::new(meta[0] as u8, meta[1] == 1, false).unwrap();
            let axis = usize::try_from(meta[2]).ok();
            let params = QuantParams {
                scales: scales.to_vec(),
                zero_points: zps.to_vec(),
                axis,
                spec,
            };
            params.validate().unwrap();
            Case {
                name,
                x,
                params,
                q,
                y,
            }
        })
        .collect()
}

fn assert_bits_eq(name: &str, what: &str, got: &ArrayD<f32>, want: &ArrayD<f32>, x: &ArrayD<f32>) {
    assert_eq!(got.shape(), want.shape(), "{name} {what}");
    for (i, ((g, w), xv)) in got.iter().zip(want.iter()).zip(x.iter()).enumerate() {
        assert_eq!(
            g.to_bits(),
            w.to_bits(),
            "{name} {what} #{i}: x = {xv:e}, got {g:e}, onnxruntime {w:e}"
        );
    }
}

#[test]
fn every_spec_and_layout_is_covered() {
    let cases = cases();
    assert_eq!(cases.len(), 14);
    for bits in [4, 8, 16] {
        for signed in [false, true] {
            assert!(cases
                .iter()
                .any(|c| c.params.spec.bits() == bits && c.params.spec.is_signed() == signed));
        }
    }
    assert!(cases.iter().any(|c| c.params.axis == Some(0)));
    assert!(cases.iter().any(|c| c.params.axis == Some(1)));
    assert!(cases.iter().any(|c| c.params.axis.is_none()));
}

#[test]
fn quantize_matches_onnxruntime() {
    let mut ties = 0;
    for c in cases() {
        let q = quantize(&c.x.view(), &c.params).unwrap();
        for (i, ((g, w), xv)) in q.iter().zip(c.q.iter()).zip(c.x.iter()).enumerate() {
            assert_eq!(g, w, "{} #{i}: x = {xv:e}", c.name);
        }
        if c.params.axis.is_none() {
            let (s, zp) = (c.params.scales[0], c.params.zero_points[0]);
            for (&xv, &w) in c.x.iter().zip(c.q.iter()) {
                assert_eq!(quantize_value(xv, s, zp, c.params.spec), w);
                let r = xv / s;
                if r.is_finite() && r - r.floor() == 0.5 {
                    ties += 1;
                }
            }
        }
    }
    assert!(ties > 100, "only {ties} exact ties in the reference data");
}

#[test]
fn fake_quantize_matches_onnxruntime_bit_for_bit() {
    for c in cases() {
        let y = fake_quantize(&c.x.view(), &c.params).unwrap();
        assert_bits_eq(&c.name, "fake_quantize", &y, &c.y, &c.x);
        let mut flat = c.x.iter().copied().collect::<Vec<f32>>();
        fake_quantize_slice(&mut flat, c.x.shape(), &c.params).unwrap();
        let flat = ArrayD::from_shape_vec(c.x.raw_dim(), flat).unwrap();
        assert_bits_eq(&c.name, "fake_quantize_slice", &flat, &c.y, &c.x);
        let dq = dequantize(&c.q.view(), &c.params).unwrap();
        assert_bits_eq(&c.name, "dequantize", &dq, &c.y, &c.x);
        if c.params.axis.is_none() {
            let (s, zp) = (c.params.scales[0], c.params.zero_points[0]);
            for (&xv, &w) in c.x.iter().zip(c.y.iter()) {
                assert_eq!(
                    fake_quantize_value(xv, s, zp, c.params.spec).to_bits(),
                    w.to_bits()
                );
            }
        }
    }
}

#[test]
fn four_bit_codes_survive_packing() {
    for c in cases().into_iter().filter(|c| c.params.spec.bits() == 4) {
        let n = c.q.len();
        if c.params.spec.is_signed() {
            let v: Vec<i8> = c.q.iter().map(|&q| q as i8).collect();
            assert_eq!(
                unpack_int4(&pack_int4(&v).unwrap(), n).unwrap(),
                v,
                "{}",
                c.name
            );
        } else {
            let v: Vec<u8> = c.q.iter().map(|&q| q as u8).collect();
            assert_eq!(
                unpack_uint4(&pack_uint4(&v).unwrap(), n).unwrap(),
                v,
                "{}",
                c.name
            );
        }
    }
}

#[test]
fn bias_dequantization_matches_onnxruntime() {
    let mut npz = reader();
    let q: Array1<i32> = npz.by_name("bias_q").unwrap();
    let scales: Array1<f32> = npz.by_name("bias_scale").unwrap();
    let want: Array1<f32> = npz.by_name("bias_y").unwrap();
    let got = dequantize_bias(q.as_slice().unwrap(), scales.as_slice().unwrap()).unwrap();
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "bias #{i}: q = {}", q[i]);
    }
}
