//! int4 / uint4 packing in ONNX order: two values per byte, element `2i` in
//! the low nibble and element `2i + 1` in the high nibble; an odd count leaves
//! the last high nibble zero.

use crate::error::{QuantError, Result};

/// Bytes needed for `len` packed 4-bit values.
pub fn packed_len(len: usize) -> usize {
    len.div_ceil(2)
}

/// Packs nibbles that the caller has checked into bytes, low nibble first.
fn pack_nibbles(nibbles: impl ExactSizeIterator<Item = u8>) -> Vec<u8> {
    let mut out = vec![0u8; packed_len(nibbles.len())];
    for (i, n) in nibbles.enumerate() {
        out[i / 2] |= (n & 0x0f) << (4 * (i % 2));
    }
    out
}

/// The `len` nibbles of `packed`, low nibble first.
fn unpack_nibbles(packed: &[u8], len: usize) -> Result<impl Iterator<Item = u8> + '_> {
    if packed.len() != packed_len(len) {
        return Err(QuantError::LengthMismatch {
            what: "packed 4-bit bytes",
            expected: packed_len(len),
            found: packed.len(),
        });
    }
    Ok((0..len).map(move |i| (packed[i / 2] >> (4 * (i % 2))) & 0x0f))
}

/// Packs signed 4-bit values (two's complement nibbles).
///
/// # Errors
/// [`QuantError::NibbleOutOfRange`] for a value outside `-8..=7`.
pub fn pack_int4(values: &[i8]) -> Result<Vec<u8>> {
    if let Some((index, &v)) = values
        .iter()
        .enumerate()
        .find(|(_, v)| !(-8..=7).contains(*v))
    {
        return Err(QuantError::NibbleOutOfRange {
            index,
            value: i32::from(v),
            kind: "int4",
        });
    }
    Ok(pack_nibbles(values.iter().map(|&v| v as u8)))
}

/// Unpacks `len` signed 4-bit values.
///
/// # Errors
/// [`QuantError::LengthMismatch`] unless `packed.len() == len.div_ceil(2)`.
pub fn unpack_int4(packed: &[u8], len: usize) -> Result<Vec<i8>> {
    // Shift the nibble to the top and back to sign-extend it.
    Ok(unpack_nibbles(packed, len)?
        .map(|n| ((n << 4) as i8) >> 4)
        .collect())
}

/// Packs unsigned 4-bit values.
///
/// # Errors
/// [`QuantError::NibbleOutOfRange`] for a value above 15.
pub fn pack_uint4(values: &[u8]) -> Result<Vec<u8>> {
    if let Some((index, &v)) = values.iter().enumerate().find(|(_, v)| **v > 15) {
        return Err(QuantError::NibbleOutOfRange {
            index,
            value: i32::from(v),
            kind: "uint4",
        });
    }
    Ok(pack_nibbles(values.iter().copied()))
}

/// Unpacks `len` unsigned 4-bit values.
///
/// # Errors
/// [`QuantError::LengthMismatch`] unless `packed.len() == len.div_ceil(2)`.
pub fn unpack_uint4(packed: &[u8], len: usize) -> Result<Vec<u8>> {
    Ok(unpack_nibbles(packed, len)?.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnx_nibble_order() {
        assert_eq!(pack_int4(&[1, -1]).unwrap(), vec![0xf1]);
        assert_eq!(pack_int4(&[-8, 7, 3]).unwrap(), vec![0x78, 0x03]);
        assert_eq!(pack_uint4(&[1, 2, 15]).unwrap(), vec![0x21, 0x0f]);
        assert!(pack_int4(&[]).unwrap().is_empty());
    }

    #[test]
    fn round_trips_with_odd_lengths() {
        let all: Vec<i8> = (-8..=7).chain(-8..=0).collect();
        assert_eq!(all.len() % 2, 1);
        assert_eq!(
            unpack_int4(&pack_int4(&all).unwrap(), all.len()).unwrap(),
            all
        );
        let all_u: Vec<u8> = (0..=15).chain(3..=5).collect();
        assert_eq!(
            unpack_uint4(&pack_uint4(&all_u).unwrap(), all_u.len()).unwrap(),
            all_u
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            pack_int4(&[0, 8]),
            Err(QuantError::NibbleOutOfRange {
                index: 1,
                value: 8,
                kind: "int4"
            })
        );
        assert!(pack_int4(&[-9]).is_err());
        assert!(pack_uint4(&[16]).is_err());
        assert!(unpack_int4(&[0, 0], 5).is_err());
        assert!(unpack_uint4(&[0], 3).is_err());
    }
}
