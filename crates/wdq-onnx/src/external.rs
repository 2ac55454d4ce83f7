//! External tensor data: bytes that a `TensorProto` keeps in a file next to
//! the model (`location`, `offset`, `length` keys).
//!
//! Invariant: a location is read only when it resolves, symbolic links
//! included, to a regular file inside the model's folder (never a pipe or
//! a device); offset and length are checked against the file's size before
//! anything is allocated, and the allocation is fallible. Initializers that
//! nothing reads are not read at all (see `import::graph`).

use crate::io::{open_regular, read_bounded};
use crate::pb;
use crate::OnnxError;
use std::io::{Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

/// Resolves external data against the folder the model was read from.
#[derive(Clone, Debug)]
pub(crate) struct ExternalResolver {
    base: Option<PathBuf>,
}

impl ExternalResolver {
    pub(crate) fn new(base: Option<&Path>) -> ExternalResolver {
        ExternalResolver {
            base: base.map(Path::to_path_buf),
        }
    }

    /// The bytes that `entries` (a tensor's `external_data`) point at.
    pub(crate) fn read(
        &self,
        tensor: &str,
        entries: &[pb::StringStringEntryProto],
    ) -> Result<Vec<u8>, OnnxError> {
        let key = |k: &str| {
            entries
                .iter()
                .rev()
                .find(|e| e.key.as_deref() == Some(k))
                .and_then(|e| e.value.clone())
        };
        let location = key("location").unwrap_or_default();
        let fail = |why: String| OnnxError::ExternalData {
            tensor: tensor.to_string(),
            location: location.clone(),
            why,
        };
        if location.is_empty() {
            return Err(fail("no `location` key".to_string()));
        }
        let number =
            |k: &str| -> Result<Option<u64>, OnnxError> {
                match key(k) {
                    None => Ok(None),
                    Some(text) => text.trim().parse::<u64>().map(Some).map_err(|_| {
                        fail(format!("`{k}` is not a non-negative integer: {text:?}"))
                    }),
                }
            };
        let offset = number("offset")?.unwrap_or(0);
        let length = number("length")?;
        let base = self.base.as_ref().ok_or_else(|| {
            fail("the model was decoded from bytes without a folder to resolve it against".into())
        })?;
        // A model named without a folder part lies in the current folder.
        let base = if base.as_os_str().is_empty() {
            Path::new(".")
        } else {
            base.as_path()
        };
        let relative = Path::new(&location);
        let escapes = relative.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        });
        if escapes || relative.is_absolute() {
            return Err(fail("the path leaves the model's folder".to_string()));
        }
        let path = base.join(relative);
        let real = path
            .canonicalize()
            .map_err(|e| fail(format!("cannot open {}: {e}", path.display())))?;
        let real_base = base.canonicalize().map_err(|e| {
            fail(format!(
                "cannot open the model folder {}: {e}",
                base.display()
            ))
        })?;
        if !real.starts_with(&real_base) {
            return Err(fail("the path leaves the model's folder".to_string()));
        }
        let (mut file, size) =
            open_regular(&real).map_err(|e| fail(format!("cannot open: {e}")))?;
        if offset > size {
            return Err(fail(format!(
                "offset {offset} is past the end of the file ({size} bytes)"
            )));
        }
        let length = length.unwrap_or(size - offset);
        if length > size - offset {
            return Err(fail(format!(
                "offset {offset} + length {length} is past the end of the file ({size} bytes)"
            )));
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| fail(format!("cannot seek: {e}")))?;
        let bytes =
            read_bounded(&mut file, length).map_err(|e| fail(format!("cannot read: {e}")))?;
        Ok(bytes)
    }

    /// Whether `tensor` keeps its data in an external file.
    pub(crate) fn is_external(tensor: &pb::TensorProto) -> bool {
        tensor.data_location == Some(pb::tensor_proto::DataLocation::External as i32)
    }

    /// Moves external data of `tensor` into its `raw_data`.
    pub(crate) fn inline_tensor(&self, tensor: &mut pb::TensorProto) -> Result<(), OnnxError> {
        if Self::is_external(tensor) {
            let name = tensor.name.clone().unwrap_or_default();
            tensor.raw_data = Some(self.read(&name, &tensor.external_data)?);
            tensor.external_data.clear();
            tensor.data_location = None;
        }
        Ok(())
    }

    /// Inlines every external tensor of a graph, its subgraphs included.
    pub(crate) fn inline_graph(&self, graph: &mut pb::GraphProto) -> Result<(), OnnxError> {
        each_graph_tensor(graph, &mut |t| self.inline_tensor(t))
    }

    /// Inlines every external tensor an attribute holds, in subgraphs too.
    pub(crate) fn inline_attribute(&self, attr: &mut pb::AttributeProto) -> Result<(), OnnxError> {
        each_attribute_tensor(attr, &mut |t| self.inline_tensor(t))
    }

    /// The files that the external tensors of `graph` (subgraphs included,
    /// used or not) name, joined to the model's folder: inputs that an
    /// output must never overwrite.
    pub(crate) fn files(&self, graph: &mut pb::GraphProto) -> Vec<PathBuf> {
        let base = self.base.clone().unwrap_or_default();
        let mut files = Vec::new();
        let _ = each_graph_tensor(graph, &mut |t| {
            if let Some(location) = t
                .external_data
                .iter()
                .rev()
                .find(|e| e.key.as_deref() == Some("location"))
                .and_then(|e| e.value.as_deref())
            {
                let file = base.join(location);
                if !files.contains(&file) {
                    files.push(file);
                }
            }
            Ok(())
        });
        files
    }
}

type TensorVisit<'a> = dyn FnMut(&mut pb::TensorProto) -> Result<(), OnnxError> + 'a;

/// Calls `f` on every tensor of a graph: initializers, the parts of sparse
/// initializers, and attribute tensors, subgraphs included.
fn each_graph_tensor(graph: &mut pb::GraphProto, f: &mut TensorVisit) -> Result<(), OnnxError> {
    for t in graph.initializer.iter_mut() {
        f(t)?;
    }
    for s in graph.sparse_initializer.iter_mut() {
        each_sparse_tensor(s, f)?;
    }
    for node in graph.node.iter_mut() {
        for attr in node.attribute.iter_mut() {
            each_attribute_tensor(attr, f)?;
        }
    }
    Ok(())
}

fn each_attribute_tensor(
    attr: &mut pb::AttributeProto,
    f: &mut TensorVisit,
) -> Result<(), OnnxError> {
    if let Some(t) = attr.t.as_mut() {
        f(t)?;
    }
    for t in attr.tensors.iter_mut() {
        f(t)?;
    }
    if let Some(s) = attr.sparse_tensor.as_mut() {
        each_sparse_tensor(s, f)?;
    }
    for s in attr.sparse_tensors.iter_mut() {
        each_sparse_tensor(s, f)?;
    }
    if let Some(g) = attr.g.as_mut() {
        each_graph_tensor(g, f)?;
    }
    for g in attr.graphs.iter_mut() {
        each_graph_tensor(g, f)?;
    }
    Ok(())
}

fn each_sparse_tensor(
    sparse: &mut pb::SparseTensorProto,
    f: &mut TensorVisit,
) -> Result<(), OnnxError> {
    if let Some(t) = sparse.values.as_mut() {
        f(t)?;
    }
    if let Some(t) = sparse.indices.as_mut() {
        f(t)?;
    }
    Ok(())
}
