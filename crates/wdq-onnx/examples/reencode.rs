//! Reads an ONNX model, optionally converts its default-domain opset, and
//! writes it back: `cargo run -p wdq-onnx --example reencode -- IN OUT [OPSET]`.
//! Used to check exported models against onnxruntime by hand.

use anyhow::Context;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, output) = match (args.first(), args.get(1)) {
        (Some(i), Some(o)) => (PathBuf::from(i), PathBuf::from(o)),
        _ => anyhow::bail!("usage: reencode IN OUT [OPSET]"),
    };
    let mut model = wdq_onnx::load_model(&input)?;
    if let Some(target) = args.get(2) {
        let target: i64 = target.parse().context("OPSET must be an integer")?;
        let summary = wdq_onnx::convert_opset(&mut model, target)?;
        eprintln!("{summary:?}");
    }
    wdq_onnx::save_model(&model, &output)?;
    Ok(())
}
