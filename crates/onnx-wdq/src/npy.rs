//! A bounded reader of `.npy` arrays and `.npz` archives of them.
//!
//! Nothing a file claims is trusted before it is checked: the header length
//! against [`MAX_HEADER`] and the bytes left, the shape's byte count against
//! the bytes the file (or the zip entry) holds, and that count against the
//! memory budget; the buffer is then reserved fallibly. A zip entry is read
//! only up to what its header needs, plus one byte to prove it ends there,
//! so an entry that inflates beyond its size is caught without inflating it.

use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use std::io::Read;
use wdq_exec::TensorValue;

/// The longest `.npy` header read (numpy's own limit for safe loading is
/// 10,000 bytes).
pub const MAX_HEADER: u64 = 65_536;

/// Why an array could not be read; the caller names the file and entry.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("not a .npy array (no \\x93NUMPY magic)")]
    Magic,
    #[error(
        "the header says it is {0} bytes long, more than the {1} bytes the file holds after it"
    )]
    HeaderPastEnd(u64, u64),
    #[error("the header says it is {0} bytes long; the limit is {MAX_HEADER}")]
    HeaderTooLong(u64),
    #[error("unsupported .npy version {0}.{1}")]
    Version(u8, u8),
    #[error("the header is malformed: {0}")]
    Header(String),
    #[error("element type `{0}` cannot be read (use float32, float64, int64, int32, int8, uint8 or bool, little-endian)")]
    ElementType(String),
    #[error("shape {shape:?} of {item}-byte elements needs {needed} bytes of data, but {held} follow the header")]
    Size {
        shape: Vec<usize>,
        item: usize,
        needed: String,
        held: u64,
    },
    #[error(
        "shape {shape:?} needs {bytes} bytes, more than the {budget} bytes of memory available"
    )]
    Budget {
        shape: Vec<usize>,
        bytes: u64,
        budget: u64,
    },
    #[error("cannot allocate {0} bytes for the array")]
    Alloc(u64),
    #[error("the data inflates beyond the {0} bytes its zip entry declares")]
    Inflates(u64),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Element types read, with their size in bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Element {
    F32,
    F64,
    I64,
    I32,
    I8,
    U8,
    Bool,
}

impl Element {
    fn parse(descr: &str) -> Option<Element> {
        let (order, code) = descr.split_at(descr.len().min(1));
        let element = match code {
            "f4" => Element::F32,
            "f8" => Element::F64,
            "i8" => Element::I64,
            "i4" => Element::I32,
            "i1" => Element::I8,
            "u1" => Element::U8,
            "b1" => Element::Bool,
            _ => return None,
        };
        let one_byte = matches!(element, Element::I8 | Element::U8 | Element::Bool);
        match order {
            "<" => Some(element),
            "|" | "=" if one_byte => Some(element),
            "=" if cfg!(target_endian = "little") => Some(element),
            _ => None,
        }
    }

    fn size(self) -> usize {
        match self {
            Element::F64 | Element::I64 => 8,
            Element::F32 | Element::I32 => 4,
            Element::I8 | Element::U8 | Element::Bool => 1,
        }
    }
}

/// What a `.npy` header declares.
#[derive(Debug)]
struct Header {
    element: Element,
    fortran: bool,
    shape: Vec<usize>,
}

/// Reads one array from `reader`, which holds exactly `length` bytes (the
/// file's size or the zip entry's declared size), within `budget` bytes.
///
/// # Errors
/// [`NpyError`] saying what the file claims and what it holds.
pub fn read_npy(reader: &mut impl Read, length: u64, budget: u64) -> Result<TensorValue, NpyError> {
    let (header, used) = read_header(reader, length)?;
    let held = length - used;
    let item = header.element.size();
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d));
    let bytes = count.and_then(|c| c.checked_mul(item));
    if bytes.map(|b| b as u64) != Some(held) {
        return Err(NpyError::Size {
            shape: header.shape,
            item,
            needed: bytes.map_or_else(|| "more than 2^64".to_string(), |b| b.to_string()),
            held,
        });
    }
    if held > budget {
        return Err(NpyError::Budget {
            shape: header.shape,
            bytes: held,
            budget,
        });
    }
    let count = count.unwrap_or(0);
    let value = match header.element {
        Element::F32 => TensorValue::F32(read_data(reader, &header, count, f32::from_le_bytes)?),
        Element::F64 => TensorValue::F64(read_data(reader, &header, count, f64::from_le_bytes)?),
        Element::I64 => TensorValue::I64(read_data(reader, &header, count, i64::from_le_bytes)?),
        Element::I32 => TensorValue::I32(read_data(reader, &header, count, i32::from_le_bytes)?),
        Element::I8 => TensorValue::I8(read_data(reader, &header, count, i8::from_le_bytes)?),
        Element::U8 => TensorValue::U8(read_data(reader, &header, count, u8::from_le_bytes)?),
        Element::Bool => {
            TensorValue::Bool(read_data(reader, &header, count, |[b]: [u8; 1]| b != 0)?)
        }
    };
    // One byte more proves the data ends where its size says (a zip entry
    // that inflates beyond it is caught here, without inflating the rest).
    if reader.read(&mut [0u8; 1])? != 0 {
        return Err(NpyError::Inflates(length));
    }
    Ok(value)
}

/// Reads `count` elements of `N` bytes each into an array of the header's
/// shape, converting chunk by chunk into one fallibly reserved buffer.
fn read_data<T: Clone, const N: usize>(
    reader: &mut impl Read,
    header: &Header,
    count: usize,
    convert: impl Fn([u8; N]) -> T,
) -> Result<ArrayD<T>, NpyError> {
    let mut values: Vec<T> = Vec::new();
    values
        .try_reserve_exact(count)
        .map_err(|_| NpyError::Alloc((count * N) as u64))?;
    let mut chunk = vec![0u8; N * 8192];
    let mut left = count;
    while left > 0 {
        let n = left.min(8192);
        let part = &mut chunk[..n * N];
        reader.read_exact(part)?;
        values.extend(part.chunks_exact(N).map(|c| {
            let mut b = [0u8; N];
            b.copy_from_slice(c);
            convert(b)
        }));
        left -= n;
    }
    let shape = IxDyn(&header.shape);
    let array = if header.fortran {
        ArrayD::from_shape_vec(shape.f(), values)
    } else {
        ArrayD::from_shape_vec(shape, values)
    }
    .map_err(|e| NpyError::Header(e.to_string()))?;
    Ok(if header.fortran {
        array.as_standard_layout().into_owned()
    } else {
        array
    })
}

/// Reads the magic, version and header; returns it with the bytes used.
fn read_header(reader: &mut impl Read, length: u64) -> Result<(Header, u64), NpyError> {
    let mut magic = [0u8; 8];
    if length < 10 {
        return Err(NpyError::Magic);
    }
    reader.read_exact(&mut magic)?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(NpyError::Magic);
    }
    let (header_len, prefix) = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            reader.read_exact(&mut b)?;
            (u64::from(u16::from_le_bytes(b)), 10)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            reader.read_exact(&mut b)?;
            (u64::from(u32::from_le_bytes(b)), 12)
        }
        _ => return Err(NpyError::Version(magic[6], magic[7])),
    };
    let after = length.saturating_sub(prefix);
    if header_len > MAX_HEADER {
        return Err(NpyError::HeaderTooLong(header_len));
    }
    if header_len > after {
        return Err(NpyError::HeaderPastEnd(header_len, after));
    }
    let mut text = vec![0u8; header_len as usize];
    reader.read_exact(&mut text)?;
    let text = String::from_utf8_lossy(&text);
    Ok((parse_header(&text)?, prefix + header_len))
}

/// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header(text: &str) -> Result<Header, NpyError> {
    let bad = |why: &str| NpyError::Header(why.to_string());
    let body = text.trim();
    if !body.starts_with('{') || !body.ends_with('}') {
        return Err(bad("not a dictionary"));
    }
    let after = |key: &str| -> Result<&str, NpyError> {
        let at = body
            .find(&format!("'{key}'"))
            .ok_or_else(|| bad(&format!("no '{key}' key")))?;
        let rest = body[at + key.len() + 2..].trim_start();
        rest.strip_prefix(':')
            .map(str::trim_start)
            .ok_or_else(|| bad(&format!("no ':' after '{key}'")))
    };
    let descr = after("descr")?;
    let quote = descr
        .chars()
        .next()
        .filter(|c| *c == '\'' || *c == '"')
        .ok_or_else(|| bad("'descr' is not a string (structured arrays are not read)"))?;
    let descr = &descr[1..];
    let descr = &descr[..descr
        .find(quote)
        .ok_or_else(|| bad("unterminated 'descr'"))?];
    let element = Element::parse(descr).ok_or_else(|| NpyError::ElementType(descr.to_string()))?;
    let fortran = after("fortran_order")?;
    let fortran = if fortran.starts_with("True") {
        true
    } else if fortran.starts_with("False") {
        false
    } else {
        return Err(bad("'fortran_order' is not True or False"));
    };
    let shape = after("shape")?
        .strip_prefix('(')
        .ok_or_else(|| bad("'shape' is not a tuple"))?;
    let shape = &shape[..shape.find(')').ok_or_else(|| bad("unterminated 'shape'"))?];
    let shape = shape
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| bad(&format!("dimension `{d}` is not a non-negative integer")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Header {
        element,
        fortran,
        shape,
    })
}

/// Bytes of memory the arrays of one data file may take: the system's
/// available memory where it can be read (Linux), else no limit (the
/// allocation itself is still fallible).
pub fn memory_budget() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            kib.checked_mul(1024)
        })
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        npy_in_order(descr, "False", shape, data)
    }

    fn npy_in_order(descr: &str, fortran: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let dict =
            format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
        let mut header = dict.into_bytes();
        while (header.len() + 11) % 64 != 0 {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header);
        out.extend(data);
        out
    }

    fn read(bytes: &[u8]) -> Result<TensorValue, NpyError> {
        read_npy(&mut &bytes[..], bytes.len() as u64, u64::MAX)
    }

    #[test]
    fn reads_what_numpy_writes() {
        let data: Vec<u8> = [1.5f32, -2.0, 3.25, 0.0, 7.0, 8.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let TensorValue::F32(a) = read(&npy("<f4", "(2, 3)", &data)).unwrap() else {
            panic!("not f32")
        };
        assert_eq!(a.shape(), &[2, 3]);
        assert_eq!(a[[1, 0]], 0.0);
        assert_eq!(a[[0, 2]], 3.25);
        let labels = npy(
            "<i8",
            "(2,)",
            &[3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0],
        );
        let TensorValue::I64(l) = read(&labels).unwrap() else {
            panic!("not i64")
        };
        assert_eq!(l.as_slice().unwrap(), &[3, 9]);
    }

    #[test]
    fn fortran_order_is_read_as_numpy_means_it() {
        // [[1, 2, 3], [4, 5, 6]] stored column by column.
        let data: Vec<u8> = [1i32, 4, 2, 5, 3, 6]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let bytes = npy_in_order("<i4", "True", "(2, 3)", &data);
        let TensorValue::I32(a) = read(&bytes).unwrap() else {
            panic!("not i32")
        };
        assert_eq!(a.iter().copied().collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn claims_are_checked_before_allocating() {
        let huge = read(&npy("<f4", "(1000000000000, 64)", &[0; 16])).unwrap_err();
        assert!(matches!(huge, NpyError::Size { .. }), "{huge}");
        let overflow = read(&npy("<f8", "(4294967296, 4294967296, 16)", &[])).unwrap_err();
        assert!(huge.to_string().contains("16 follow"), "{huge}");
        assert!(
            overflow.to_string().contains("more than 2^64"),
            "{overflow}"
        );
        let short = read(&npy("<f4", "(5,)", &[0; 16])).unwrap_err();
        assert!(matches!(short, NpyError::Size { .. }), "{short}");
        let mut long_header = b"\x93NUMPY\x02\x00".to_vec();
        long_header.extend(u32::MAX.to_le_bytes());
        long_header.extend([b' '; 100]);
        let err = read(&long_header).unwrap_err();
        assert!(matches!(err, NpyError::HeaderTooLong(_)), "{err}");
        let budget = npy("<f4", "(4,)", &[0; 16]);
        let err = read_npy(&mut &budget[..], budget.len() as u64, 15).unwrap_err();
        assert!(matches!(err, NpyError::Budget { .. }), "{err}");
        // A reader holding more than its declared length: caught after
        // the one byte past the data.
        let mut more = npy("<f4", "(4,)", &[0; 16]);
        let declared = more.len() as u64;
        more.extend([0; 1000]);
        let err = read_npy(&mut &more[..], declared, u64::MAX).unwrap_err();
        assert!(matches!(err, NpyError::Inflates(_)), "{err}");
    }

    #[test]
    fn foreign_files_and_types_are_named() {
        assert!(matches!(
            read(b"PK\x03\x04 not numpy"),
            Err(NpyError::Magic)
        ));
        let err = read(&npy(">f4", "(1,)", &[0; 4])).unwrap_err();
        assert!(err.to_string().contains("`>f4`"), "{err}");
        let err = read(&npy("<U3", "(1,)", &[0; 12])).unwrap_err();
        assert!(matches!(err, NpyError::ElementType(_)), "{err}");
        let err = read(&npy("<f4", "(-1,)", &[])).unwrap_err();
        assert!(matches!(err, NpyError::Header(_)), "{err}");
    }
}
