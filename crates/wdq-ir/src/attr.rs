//! Attribute values of the closed op set, and the conversion of each typed
//! attribute field to and from a generic [`AttrValue`].
//!
//! Typed attribute structs keep every field as `Option`: `None` means the
//! attribute was absent, so that a model round-trips exactly and defaults
//! that changed between opsets are resolved where the opset is known.

use crate::Tensor;
use std::sync::Arc;

/// A named attribute of a known op.
#[derive(Clone, Debug, PartialEq)]
pub struct Attr {
    pub name: String,
    pub value: AttrValue,
}

/// The attribute kinds the closed op set uses. Graph-valued and other exotic
/// attributes only occur on [`crate::Op::Opaque`] nodes, which keep them encoded.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Float(f32),
    Int(i64),
    String(String),
    Tensor(Arc<Tensor>),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    Strings(Vec<String>),
}

/// A Rust type that one attribute field of a typed struct holds.
pub trait AttrField: Sized {
    /// The ONNX attribute type name (`FLOAT`, `INTS`, ...).
    const KIND: &'static str;
    fn from_value(value: &AttrValue) -> Option<Self>;
    fn to_value(&self) -> AttrValue;
}

macro_rules! attr_field {
    ($ty:ty, $variant:ident, $kind:literal) => {
        impl AttrField for $ty {
            const KIND: &'static str = $kind;
            fn from_value(value: &AttrValue) -> Option<Self> {
                match value {
                    AttrValue::$variant(v) => Some(v.clone()),
                    _ => None,
                }
            }
            fn to_value(&self) -> AttrValue {
                AttrValue::$variant(self.clone())
            }
        }
    };
}
attr_field!(f32, Float, "FLOAT");
attr_field!(i64, Int, "INT");
attr_field!(String, String, "STRING");
attr_field!(Arc<Tensor>, Tensor, "TENSOR");
attr_field!(Vec<f32>, Floats, "FLOATS");
attr_field!(Vec<i64>, Ints, "INTS");
attr_field!(Vec<String>, Strings, "STRINGS");

impl AttrValue {
    /// The ONNX attribute type name of the value.
    pub fn kind(&self) -> &'static str {
        match self {
            AttrValue::Float(_) => "FLOAT",
            AttrValue::Int(_) => "INT",
            AttrValue::String(_) => "STRING",
            AttrValue::Tensor(_) => "TENSOR",
            AttrValue::Floats(_) => "FLOATS",
            AttrValue::Ints(_) => "INTS",
            AttrValue::Strings(_) => "STRINGS",
        }
    }
}

/// An attribute a typed struct cannot hold: a name the op does not declare
/// (import keeps such a node opaque: a newer or custom attribute), or a
/// declared name with a value of another kind (`wrong_kind`: the model is
/// malformed, and import refuses it).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}", match .wrong_kind {
    Some((expected, found)) => format!("attribute `{name}` is {found}; the op declares it {expected}"),
    None => format!("attribute `{name}` is not understood here"),
})]
pub struct UnknownAttr {
    pub name: String,
    /// (declared kind, kind found) when the name is known.
    pub wrong_kind: Option<(&'static str, &'static str)>,
}

/// Declares a typed attribute struct: each field is `Option<T>` and maps to
/// the ONNX attribute name given as a string.
macro_rules! op_attrs {
    ($(#[$meta:meta])* $name:ident { $($field:ident : $ty:ty = $onnx:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $name { $(pub $field: Option<$ty>),* }

        impl $name {
            /// Parses the attributes of a node.
            ///
            /// # Errors
            /// [`UnknownAttr`] for a name this op does not declare or a value of the wrong kind.
            #[allow(unused_mut)]
            pub fn from_attrs(attrs: &[$crate::Attr]) -> Result<Self, $crate::attr::UnknownAttr> {
                let mut out = Self::default();
                for attr in attrs {
                    match attr.name.as_str() {
                        $($onnx => {
                            out.$field = Some(<$ty as $crate::attr::AttrField>::from_value(&attr.value)
                                .ok_or_else(|| $crate::attr::UnknownAttr {
                                    name: attr.name.clone(),
                                    wrong_kind: Some((<$ty as $crate::attr::AttrField>::KIND, attr.value.kind())),
                                })?);
                        })*
                        _ => return Err($crate::attr::UnknownAttr { name: attr.name.clone(), wrong_kind: None }),
                    }
                }
                Ok(out)
            }

            /// The attributes that are present, in declaration order.
            #[allow(unused_mut)]
            pub fn to_attrs(&self) -> Vec<$crate::Attr> {
                let mut out = Vec::new();
                $(if let Some(v) = &self.$field {
                    out.push($crate::Attr { name: $onnx.to_string(), value: $crate::attr::AttrField::to_value(v) });
                })*
                out
            }
        }
    };
}
pub(crate) use op_attrs;
