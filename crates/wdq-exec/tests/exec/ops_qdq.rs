//! QuantizeLinear / DequantizeLinear on the ONNX spec examples.

use ndarray::{ArrayD, IxDyn};
use wdq_exec::tensor_ops::run;
use wdq_exec::{KernelContext, KernelError, TensorValue};
use wdq_ir::op::QdqAttrs;
use wdq_ir::Op;

fn arr<T>(shape: &[usize], v: Vec<T>) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}
fn f32s(shape: &[usize], v: Vec<f32>) -> TensorValue {
    TensorValue::F32(arr(shape, v))
}
fn q(attrs: QdqAttrs, inputs: &[Option<&TensorValue>]) -> Result<TensorValue, KernelError> {
    Ok(run(
        &Op::QuantizeLinear(attrs),
        KernelContext { opset: 21 },
        inputs,
    )?
    .remove(0)
    .unwrap())
}
fn dq(attrs: QdqAttrs, inputs: &[Option<&TensorValue>]) -> Result<TensorValue, KernelError> {
    Ok(run(
        &Op::DequantizeLinear(attrs),
        KernelContext { opset: 21 },
        inputs,
    )?
    .remove(0)
    .unwrap())
}

#[test]
fn quantize_per_tensor_uint8_and_default() {
    let x = f32s(&[6], vec![0., 2., 3., 1000., -254., -1000.]);
    let s = f32s(&[], vec![2.0]);
    let zp = TensorValue::U8(arr(&[], vec![128]));
    let y = q(QdqAttrs::default(), &[Some(&x), Some(&s), Some(&zp)]).unwrap();
    assert_eq!(
        y,
        TensorValue::U8(arr(&[6], vec![128, 129, 130, 255, 1, 0]))
    );
    // No zero point: uint8 with zero 0; half to even (1.5 -> 2, 2.5 -> 2).
    let x = f32s(&[4], vec![3., 5., -1., 7.]);
    let y = q(QdqAttrs::default(), &[Some(&x), Some(&s)]).unwrap();
    assert_eq!(y, TensorValue::U8(arr(&[4], vec![2, 2, 0, 4])));
    let zp = TensorValue::I8(arr(&[], vec![-1]));
    let x = f32s(&[4], vec![-300., 3., 5., 300.]);
    let y = q(QdqAttrs::default(), &[Some(&x), Some(&s), Some(&zp)]).unwrap();
    assert_eq!(y, TensorValue::I8(arr(&[4], vec![-128, 1, 1, 127])));
    let out8 = QdqAttrs {
        output_dtype: Some(3),
        ..Default::default()
    };
    assert_eq!(
        q(out8, &[Some(&x), Some(&s)]).unwrap().dtype(),
        wdq_ir::DType::I8
    );
}

#[test]
fn quantize_per_axis_uint8() {
    let x = f32s(
        &[1, 3, 3, 2],
        vec![
            -162., 10., -100., 232., -20., -50., -76., 0., 0., 252., 32., -44., 245., -485., -960.,
            -270., -375., -470.,
        ],
    );
    let s = f32s(&[3], vec![2., 4., 5.]);
    let zp = TensorValue::U8(arr(&[3], vec![84, 24, 196]));
    let want = vec![
        3u8, 89, 34, 200, 74, 59, 5, 24, 24, 87, 32, 13, 245, 99, 4, 142, 121, 102,
    ];
    let y = q(
        QdqAttrs {
            axis: Some(1),
            ..Default::default()
        },
        &[Some(&x), Some(&s), Some(&zp)],
    )
    .unwrap();
    assert_eq!(y, TensorValue::U8(arr(&[1, 3, 3, 2], want.clone())));
    let y2 = q(QdqAttrs::default(), &[Some(&x), Some(&s), Some(&zp)]).unwrap();
    assert_eq!(y, y2, "axis defaults to 1");
    let back = dq(QdqAttrs::default(), &[Some(&y), Some(&s), Some(&zp)]).unwrap();
    assert_eq!(back, x);
    let bad_axis = QdqAttrs {
        axis: Some(2),
        ..Default::default()
    };
    let s4 = f32s(&[4], vec![1.; 4]);
    assert!(q(bad_axis, &[Some(&x), Some(&s4)]).is_err());
}

#[test]
fn quantize_int4_and_uint4() {
    let x = f32s(
        &[3, 4],
        vec![0.0, 2.5, 4.8, 8.6, -30., -20., 6., 9., 12., 15., 16., 40.],
    );
    let s = f32s(&[3], vec![2., 3., 4.]);
    let zp = TensorValue::I4(arr(&[3], vec![1, 1, 1]));
    let attrs = QdqAttrs {
        axis: Some(0),
        ..Default::default()
    };
    let y = q(attrs.clone(), &[Some(&x), Some(&s), Some(&zp)]).unwrap();
    assert_eq!(
        y,
        TensorValue::I4(arr(&[3, 4], vec![1, 2, 3, 5, -8, -6, 3, 4, 4, 5, 5, 7]))
    );
    let back = dq(attrs.clone(), &[Some(&y), Some(&s), Some(&zp)]).unwrap();
    assert_eq!(back.as_f32().unwrap()[[1, 0]], -27.0);
    let zp = TensorValue::U4(arr(&[3], vec![0, 0, 0]));
    let y = q(attrs, &[Some(&x), Some(&s), Some(&zp)]).unwrap();
    assert_eq!(
        y,
        TensorValue::U4(arr(&[3, 4], vec![0, 1, 2, 4, 0, 0, 2, 3, 3, 4, 4, 10]))
    );
}

#[test]
fn dequantize_forms() {
    let x = TensorValue::U8(arr(&[4], vec![0, 3, 128, 255]));
    let s = f32s(&[], vec![2.0]);
    let zp = TensorValue::U8(arr(&[], vec![128]));
    let y = dq(QdqAttrs::default(), &[Some(&x), Some(&s), Some(&zp)]).unwrap();
    assert_eq!(y, f32s(&[4], vec![-256., -250., 0., 254.]));
    let acc = TensorValue::I32(arr(&[3], vec![-5, 0, 7]));
    let y = dq(
        QdqAttrs::default(),
        &[Some(&acc), Some(&f32s(&[], vec![0.5]))],
    )
    .unwrap();
    assert_eq!(y, f32s(&[3], vec![-2.5, 0., 3.5]));
    let wrong_zp = TensorValue::I8(arr(&[], vec![0]));
    assert!(dq(QdqAttrs::default(), &[Some(&x), Some(&s), Some(&wrong_zp)]).is_err());
    assert!(dq(QdqAttrs::default(), &[Some(&s), Some(&s)]).is_err());
}

#[test]
fn blocked_quantization_is_refused() {
    let x = f32s(&[2, 4], vec![0.; 8]);
    let s = f32s(&[2, 2], vec![1.; 4]);
    let attrs = QdqAttrs {
        axis: Some(1),
        block_size: Some(2),
        ..Default::default()
    };
    assert!(matches!(
        q(attrs.clone(), &[Some(&x), Some(&s)]),
        Err(KernelError::Unsupported(_))
    ));
    let xq = TensorValue::I8(arr(&[2, 4], vec![0; 8]));
    assert!(matches!(
        dq(attrs, &[Some(&xq), Some(&s)]),
        Err(KernelError::Unsupported(_))
    ));
}

/// The executor's QuantizeLinear and wdq-quant's arithmetic (what lowering
/// writes) agree on every value, NaN and infinities included; the special
/// values are onnxruntime 1.32's (NaN and -inf give qmin, +inf qmax).
#[test]
fn quantize_matches_wdq_quant_and_onnxruntime_on_special_values() {
    use wdq_quant::linear::quantize_value;
    use wdq_quant::QuantSpec;
    let values = vec![
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1.25,
        -0.75,
        0.25,
        -3.0,
        1e9,
    ];
    let x = f32s(&[values.len()], values.clone());
    let s = f32s(&[], vec![0.5]);
    let cases = [
        (TensorValue::I8(arr(&[], vec![0])), QuantSpec::INT8, 0),
        (TensorValue::U8(arr(&[], vec![3])), QuantSpec::UINT8, 3),
        (TensorValue::I4(arr(&[], vec![1])), QuantSpec::INT4, 1),
        (TensorValue::U4(arr(&[], vec![2])), QuantSpec::UINT4, 2),
    ];
    for (zp, spec, z) in cases {
        let y = q(QdqAttrs::default(), &[Some(&x), Some(&s), Some(&zp)]).unwrap();
        let got: Vec<i32> = match &y {
            TensorValue::I8(a) | TensorValue::I4(a) => a.iter().map(|&v| i32::from(v)).collect(),
            TensorValue::U8(a) | TensorValue::U4(a) => a.iter().map(|&v| i32::from(v)).collect(),
            other => panic!("{other:?}"),
        };
        let want: Vec<i32> = values
            .iter()
            .map(|&v| quantize_value(v, 0.5, z, spec))
            .collect();
        assert_eq!(got, want, "{spec:?}");
        assert_eq!(
            &got[..3],
            &[spec.qmin(), spec.qmax(), spec.qmin()],
            "{spec:?}"
        );
    }
    // The values onnxruntime gave for int8 (zero point 0) and uint8 (3).
    let ort_i8 = [-128, 127, -128, 2, -2, 0, -6, 127];
    let ort_u8 = [0, 255, 0, 5, 1, 3, 0, 255];
    for (zp, want) in [
        (TensorValue::I8(arr(&[], vec![0])), &ort_i8),
        (TensorValue::U8(arr(&[], vec![3])), &ort_u8),
    ] {
        let y = q(QdqAttrs::default(), &[Some(&x), Some(&s), Some(&zp)]).unwrap();
        let got: Vec<i32> = match &y {
            TensorValue::I8(a) => a.iter().map(|&v| i32::from(v)).collect(),
            TensorValue::U8(a) => a.iter().map(|&v| i32::from(v)).collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(&got, want);
    }
}
