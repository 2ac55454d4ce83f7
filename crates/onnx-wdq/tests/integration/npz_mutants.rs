//! Mutation test of the data reader: seeded byte flips, truncations and
//! overwritten length fields of real `.npz` files must load or be refused
//! with an error naming the file, never panic or allocate what the file
//! does not hold (the reader checks every claim against the file length
//! and the memory budget first).

use crate::common::root;
use onnx_wdq::data::{DataFile, Dataset};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutant of `bytes`: a few flipped bits, a truncation, or a run of
/// 0xff bytes (a length or shape field claiming the maximum).
fn mutant(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match rng.below(3) {
        0 => {
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(out.len());
                out[at] ^= 1 << rng.below(8);
            }
        }
        1 => out.truncate(rng.below(out.len())),
        _ => {
            let at = rng.below(out.len());
            let end = (at + 1 + rng.below(8)).min(out.len());
            out[at..end].fill(0xff);
        }
    }
    out
}

#[test]
fn mutated_npz_files_load_or_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut loaded, mut refused) = (0, 0);
    for (fixture, input) in [
        ("fixtures/models/mlp.inputs.npz", "input"),
        ("fixtures/models/tied_mlp.data.npz", "input"),
    ] {
        let original = std::fs::read(root().join(fixture)).unwrap();
        for i in 0..150 {
            let path = dir.path().join(format!("m{i}.npz"));
            std::fs::write(&path, mutant(&original, &mut rng)).unwrap();
            match Dataset::load(&path, &[input.to_string()]) {
                Ok(_) => loaded += 1,
                Err(e) => {
                    let message = e.to_string();
                    assert!(
                        message.contains(&format!("m{i}.npz")),
                        "{fixture} mutant {i}: the error does not name the file: {message}"
                    );
                    refused += 1;
                }
            }
        }
    }
    // Both outcomes occur: the mutants reach past the zip layer.
    assert!(
        loaded > 0 && refused > 0,
        "loaded {loaded}, refused {refused}"
    );
}
