//! The tensor a `Constant` node produces.

use crate::op::ConstantAttrs;
use crate::{DType, Tensor, TensorData};

/// The tensor a `Constant` node with these attributes produces, or `None`
/// when it carries none of the forms the IR reads (sparse values stay opaque).
pub fn constant_tensor(attrs: &ConstantAttrs) -> Option<Tensor> {
    if let Some(t) = &attrs.value {
        return Some((**t).clone());
    }
    if let Some(x) = attrs.value_float {
        return Some(Tensor::from_f32(vec![], vec![x]));
    }
    if let Some(v) = &attrs.value_floats {
        return Some(Tensor::from_f32(vec![v.len()], v.clone()));
    }
    if let Some(x) = attrs.value_int {
        return Some(Tensor::from_i64(vec![], vec![x]));
    }
    if let Some(v) = &attrs.value_ints {
        return Some(Tensor::from_i64(vec![v.len()], v.clone()));
    }
    let strings: Vec<Vec<u8>> = match (&attrs.value_string, &attrs.value_strings) {
        (Some(s), _) => vec![s.clone().into_bytes()],
        (None, Some(v)) => v.iter().map(|s| s.clone().into_bytes()).collect(),
        _ => return None,
    };
    let shape = if attrs.value_string.is_some() {
        vec![]
    } else {
        vec![strings.len()]
    };
    Tensor::new(DType::String, shape, TensorData::Strings(strings)).ok()
}
