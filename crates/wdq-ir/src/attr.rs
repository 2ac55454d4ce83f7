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
    fn from_value(value: &AttrValue) -> Option<Self>;
    fn to_value(&self) -> AttrValue;
}

macro_rules! attr_field {
    ($ty:ty, $variant:ident) => {
        impl AttrField for $ty {
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
attr_field!(f32, Float);
attr_field!(i64, Int);
attr_field!(String, String);
attr_field!(Arc<Tensor>, Tensor);
attr_field!(Vec<f32>, Floats);
attr_field!(Vec<i64>, Ints);
attr_field!(Vec<String>, Strings);

/// An attribute a typed struct cannot hold: unknown name or wrong kind.
/// Import turns such a node into an opaque one rather than failing.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("attribute `{name}` is not understood here")]
pub struct UnknownAttr {
    pub name: String,
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
                                .ok_or_else(|| $crate::attr::UnknownAttr { name: attr.name.clone() })?);
                        })*
                        _ => return Err($crate::attr::UnknownAttr { name: attr.name.clone() }),
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
