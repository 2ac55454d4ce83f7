//! Sparse initializers (`SparseTensorProto`) made dense: the IR holds every
//! constant densely, and export writes them back as ordinary initializers.

use crate::external::ExternalResolver;
use crate::pb;
use crate::tensor::tensor_from_proto;
use crate::OnnxError;
use wdq_ir::{Tensor, TensorData};

/// The dense tensor a sparse initializer describes, with its name.
pub(crate) fn densify(
    sparse: &pb::SparseTensorProto,
    external: &ExternalResolver,
) -> Result<(String, Tensor), OnnxError> {
    let name = sparse
        .values
        .as_ref()
        .and_then(|v| v.name.clone())
        .unwrap_or_default();
    let bad = |why: String| OnnxError::BadTensor {
        tensor: name.clone(),
        why,
    };
    if name.is_empty() {
        return Err(bad("a sparse initializer has no name".to_string()));
    }
    let values = sparse
        .values
        .as_ref()
        .ok_or_else(|| bad("no values".into()))?;
    let values = tensor_from_proto(values, &name, external)?;
    let indices = sparse
        .indices
        .as_ref()
        .ok_or_else(|| bad("no indices".into()))?;
    let indices = tensor_from_proto(indices, &format!("{name} (indices)"), external)?;
    let mut shape = Vec::with_capacity(sparse.dims.len());
    let mut count: usize = 1;
    for &d in &sparse.dims {
        let d = usize::try_from(d).map_err(|_| bad(format!("negative dimension {d}")))?;
        count = count
            .checked_mul(d)
            .ok_or_else(|| bad("shape overflows".into()))?;
        shape.push(d);
    }
    let nnz = values.len();
    let raw = indices
        .to_i64_vec()
        .ok_or_else(|| bad("indices are not integers".into()))?;
    let positions: Vec<usize> = match indices.shape() {
        [n] if *n == nnz => raw
            .iter()
            .map(|&i| usize::try_from(i).ok().filter(|&i| i < count))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("an index is out of range".into()))?,
        [n, r] if *n == nnz && *r == shape.len() => raw
            .chunks(*r)
            .map(|coords| {
                coords.iter().zip(&shape).try_fold(0usize, |acc, (&c, &d)| {
                    usize::try_from(c)
                        .ok()
                        .filter(|&c| c < d)
                        .map(|c| acc * d + c)
                })
            })
            .collect::<Option<_>>()
            .ok_or_else(|| bad("an index is out of range".into()))?,
        other => return Err(bad(format!("indices of shape {other:?} for {nnz} values"))),
    };
    let data =
        scatter(values.data(), &positions, count, values.dtype().bits() / 8).ok_or_else(|| {
            bad(format!(
                "sparse {} tensors are not supported",
                values.dtype()
            ))
        })?;
    let tensor = Tensor::new(values.dtype(), shape, data).map_err(|e| bad(e.to_string()))?;
    Ok((name, tensor))
}

/// Dense storage of `count` elements, zero (or empty) except at `positions`.
fn scatter(
    values: &TensorData,
    positions: &[usize],
    count: usize,
    width: usize,
) -> Option<TensorData> {
    fn place<T: Clone>(values: &[T], positions: &[usize], count: usize, zero: T) -> Vec<T> {
        let mut out = vec![zero; count];
        for (v, &p) in values.iter().zip(positions) {
            out[p] = v.clone();
        }
        out
    }
    Some(match values {
        TensorData::F32(v) => TensorData::F32(place(v, positions, count, 0.0)),
        TensorData::F64(v) => TensorData::F64(place(v, positions, count, 0.0)),
        TensorData::I64(v) => TensorData::I64(place(v, positions, count, 0)),
        TensorData::I32(v) => TensorData::I32(place(v, positions, count, 0)),
        TensorData::I8(v) => TensorData::I8(place(v, positions, count, 0)),
        TensorData::U8(v) => TensorData::U8(place(v, positions, count, 0)),
        TensorData::Bool(v) => TensorData::Bool(place(v, positions, count, false)),
        TensorData::Strings(v) => TensorData::Strings(place(v, positions, count, Vec::new())),
        TensorData::Bytes(_) if width == 0 => return None,
        TensorData::Bytes(v) => {
            let mut out = vec![0u8; count.checked_mul(width)?];
            for (chunk, &p) in v.chunks(width).zip(positions) {
                out[p * width..(p + 1) * width].copy_from_slice(chunk);
            }
            TensorData::Bytes(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sparse(indices: pb::TensorProto) -> pb::SparseTensorProto {
        pb::SparseTensorProto {
            values: Some(pb::TensorProto {
                name: Some("s".into()),
                dims: vec![2],
                data_type: Some(1),
                float_data: vec![5.0, 7.0],
                ..Default::default()
            }),
            indices: Some(indices),
            dims: vec![2, 3],
        }
    }

    fn indices(dims: Vec<i64>, values: Vec<i64>) -> pb::TensorProto {
        pb::TensorProto {
            dims,
            data_type: Some(7),
            int64_data: values,
            ..Default::default()
        }
    }

    #[test]
    fn both_index_forms_densify() {
        let none = ExternalResolver::new(None);
        let (name, t) = densify(&sparse(indices(vec![2], vec![1, 5])), &none).unwrap();
        assert_eq!(name, "s");
        assert_eq!(t.as_f32().unwrap(), &[0.0, 5.0, 0.0, 0.0, 0.0, 7.0]);
        let (_, t) = densify(&sparse(indices(vec![2, 2], vec![0, 1, 1, 2])), &none).unwrap();
        assert_eq!(t.as_f32().unwrap(), &[0.0, 5.0, 0.0, 0.0, 0.0, 7.0]);
        assert!(densify(&sparse(indices(vec![2], vec![1, 6])), &none).is_err());
        assert!(densify(&sparse(indices(vec![2, 2], vec![0, 3, 1, 2])), &none).is_err());
        assert!(densify(&sparse(indices(vec![3], vec![0, 1, 2])), &none).is_err());
    }
}
