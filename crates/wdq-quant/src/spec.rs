//! [`QuantSpec`]: the integer grid a tensor is quantized onto.
//!
//! Invariant: a `QuantSpec` always has `2 <= bits <= 16`, so `qmin`/`qmax`
//! never overflow and always fit an `i32` (and an `f32` exactly).

use wdq_ir::DType;

use crate::error::{QuantError, Result};

/// Smallest supported bit width.
pub const MIN_BITS: u8 = 2;
/// Largest supported bit width.
pub const MAX_BITS: u8 = 16;

/// An integer grid: bit width, signedness and whether the lowest code is
/// dropped.
///
/// | spec | qmin | qmax |
/// |---|---|---|
/// | int4 | -8 | 7 |
/// | uint4 | 0 | 15 |
/// | int8 | -128 | 127 |
/// | uint8 | 0 | 255 |
/// | int16 | -32768 | 32767 |
/// | int8, narrow | -127 | 127 |
/// | uint8, narrow | 1 | 255 |
///
/// Narrow range drops the lowest code, so that a signed grid is symmetric
/// around 0 (`-(2^(b-1)-1) ..= 2^(b-1)-1`) and an unsigned one is symmetric
/// around its midpoint `2^(b-1)` (the convention of TensorFlow's
/// `narrow_range`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QuantSpec {
    bits: u8,
    signed: bool,
    narrow_range: bool,
}

impl QuantSpec {
    /// Signed 4-bit, full range.
    pub const INT4: QuantSpec = QuantSpec {
        bits: 4,
        signed: true,
        narrow_range: false,
    };
    /// Unsigned 4-bit, full range.
    pub const UINT4: QuantSpec = QuantSpec {
        bits: 4,
        signed: false,
        narrow_range: false,
    };
    /// Signed 8-bit, full range.
    pub const INT8: QuantSpec = QuantSpec {
        bits: 8,
        signed: true,
        narrow_range: false,
    };
    /// Unsigned 8-bit, full range: the default for activations.
    pub const UINT8: QuantSpec = QuantSpec {
        bits: 8,
        signed: false,
        narrow_range: false,
    };
    /// Signed 16-bit, full range.
    pub const INT16: QuantSpec = QuantSpec {
        bits: 16,
        signed: true,
        narrow_range: false,
    };
    /// Unsigned 16-bit, full range.
    pub const UINT16: QuantSpec = QuantSpec {
        bits: 16,
        signed: false,
        narrow_range: false,
    };

    /// A spec of `bits` bits.
    ///
    /// # Errors
    /// [`QuantError::BitsOutOfRange`] unless `2 <= bits <= 16`.
    pub fn new(bits: u8, signed: bool, narrow_range: bool) -> Result<Self> {
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(QuantError::BitsOutOfRange { bits });
        }
        Ok(QuantSpec {
            bits,
            signed,
            narrow_range,
        })
    }

    /// Signed, full-range spec of `bits` bits.
    ///
    /// # Errors
    /// As [`QuantSpec::new`].
    pub fn signed(bits: u8) -> Result<Self> {
        Self::new(bits, true, false)
    }

    /// Unsigned, full-range spec of `bits` bits.
    ///
    /// # Errors
    /// As [`QuantSpec::new`].
    pub fn unsigned(bits: u8) -> Result<Self> {
        Self::new(bits, false, false)
    }

    /// The same grid with the lowest code dropped (or restored).
    pub fn with_narrow_range(self, narrow_range: bool) -> Self {
        QuantSpec {
            narrow_range,
            ..self
        }
    }

    /// Bit width, in `2..=16`.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// Whether the grid is signed.
    pub fn is_signed(&self) -> bool {
        self.signed
    }

    /// Whether the lowest code is dropped.
    pub fn is_narrow_range(&self) -> bool {
        self.narrow_range
    }

    /// Smallest code.
    pub fn qmin(&self) -> i32 {
        let full = if self.signed {
            -(1i32 << (self.bits - 1))
        } else {
            0
        };
        full + i32::from(self.narrow_range)
    }

    /// Largest code.
    pub fn qmax(&self) -> i32 {
        if self.signed {
            (1i32 << (self.bits - 1)) - 1
        } else {
            (1i32 << self.bits) - 1
        }
    }

    /// The zero point of symmetric quantization: 0 when signed, the midpoint
    /// `2^(b-1)` when unsigned ("offset binary": uint8 with zero point 128).
    /// Either way `qmax - symmetric_zero_point() == 2^(b-1) - 1`.
    pub fn symmetric_zero_point(&self) -> i32 {
        if self.signed {
            0
        } else {
            1i32 << (self.bits - 1)
        }
    }

    /// The largest code above the symmetric zero point, `2^(b-1) - 1`:
    /// the divisor of symmetric scales.
    pub fn symmetric_half_range(&self) -> i32 {
        (1i32 << (self.bits - 1)) - 1
    }

    /// The smallest ONNX integer type that holds every code of this grid
    /// (`I4`/`U4` up to 4 bits, `I8`/`U8` up to 8, `I16`/`U16` up to 16).
    pub fn storage_dtype(&self) -> DType {
        match (self.bits, self.signed) {
            (..=4, true) => DType::I4,
            (..=4, false) => DType::U4,
            (..=8, true) => DType::I8,
            (..=8, false) => DType::U8,
            (_, true) => DType::I16,
            (_, false) => DType::U16,
        }
    }

    /// Whether ONNX `QuantizeLinear` into [`QuantSpec::storage_dtype`]
    /// saturates exactly to `[qmin, qmax]`, i.e. the grid is a full-range
    /// 4, 8 or 16-bit type. Otherwise an emitted model can only hold this
    /// grid's codes if every value already lies in range (true of weights
    /// quantized with their own symmetric scale).
    pub fn is_native(&self) -> bool {
        matches!(self.bits, 4 | 8 | 16) && !self.narrow_range
    }

    /// Width of the grid, `qmax - qmin` (the number of steps).
    pub fn levels(&self) -> i32 {
        self.qmax() - self.qmin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_common_types() {
        let cases = [
            (QuantSpec::INT4, -8, 7),
            (QuantSpec::UINT4, 0, 15),
            (QuantSpec::INT8, -128, 127),
            (QuantSpec::UINT8, 0, 255),
            (QuantSpec::INT16, -32768, 32767),
            (QuantSpec::UINT16, 0, 65535),
            (QuantSpec::INT8.with_narrow_range(true), -127, 127),
            (QuantSpec::INT4.with_narrow_range(true), -7, 7),
            (QuantSpec::UINT8.with_narrow_range(true), 1, 255),
            (QuantSpec::signed(2).unwrap(), -2, 1),
            (QuantSpec::unsigned(3).unwrap(), 0, 7),
        ];
        for (spec, lo, hi) in cases {
            assert_eq!((spec.qmin(), spec.qmax()), (lo, hi), "{spec:?}");
        }
    }

    #[test]
    fn symmetric_half_range_matches_signed_qmax() {
        for bits in MIN_BITS..=MAX_BITS {
            let s = QuantSpec::signed(bits).unwrap();
            let u = QuantSpec::unsigned(bits).unwrap();
            assert_eq!(s.symmetric_half_range(), s.qmax());
            assert_eq!(
                u.qmax() - u.symmetric_zero_point(),
                u.symmetric_half_range()
            );
        }
    }

    #[test]
    fn bits_are_checked() {
        assert_eq!(
            QuantSpec::new(1, true, false),
            Err(QuantError::BitsOutOfRange { bits: 1 })
        );
        assert_eq!(
            QuantSpec::new(17, false, false),
            Err(QuantError::BitsOutOfRange { bits: 17 })
        );
        assert!(QuantSpec::new(16, false, true).is_ok());
    }

    #[test]
    fn storage_types() {
        assert_eq!(QuantSpec::signed(3).unwrap().storage_dtype(), DType::I4);
        assert_eq!(QuantSpec::UINT4.storage_dtype(), DType::U4);
        assert_eq!(QuantSpec::signed(6).unwrap().storage_dtype(), DType::I8);
        assert_eq!(QuantSpec::unsigned(12).unwrap().storage_dtype(), DType::U16);
        assert!(QuantSpec::INT4.is_native());
        assert!(!QuantSpec::INT8.with_narrow_range(true).is_native());
        assert!(!QuantSpec::signed(6).unwrap().is_native());
    }
}
