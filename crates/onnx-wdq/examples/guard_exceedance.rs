//! How often a set chosen on small validation data exceeds the threshold
//! on data it was not chosen on, with and without `--guard`.
//!
//! The layers are ordered once by drift (labelled training data). Every
//! prefix of the order is measured once, per sample, on a pool of labelled
//! samples. Then, for many seeded random splits of the pool into a small
//! selection part and a held-back part, bisect chooses a prefix on the
//! selection part (point estimate, or the 95% upper bound of the paired
//! loss with the guard) and the chosen prefix's loss is measured on the
//! held-back part. Prints the exceedance rates and the mean number of
//! low-bit layers chosen.
//!
//! usage: cargo run --release -p onnx-wdq --example guard_exceedance --
//!            MODEL TRAIN.npz POOL.npz [SELECTION_SIZE] [THRESHOLD] [LOW_BITS]

use onnx_wdq::analyze::drift;
use onnx_wdq::data::{DataFile, Dataset};
use onnx_wdq::quantize::{prepare, CandidateEvaluator, QuantizeOptions};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::Path;
use wdq_plan::metric::{judge, Metric, PerSample};
use wdq_plan::{search, Goal, Measure, SearchOptions, Selection};
use wdq_train::{Quiet, TrainOptions};

const SPLITS: usize = 400;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: guard_exceedance MODEL TRAIN.npz POOL.npz [SELECTION_SIZE] [THRESHOLD] [LOW_BITS]".into());
    }
    let model = wdq_onnx::load_model(Path::new(&args[0]))?;
    let inputs = onnx_wdq::required_inputs(&model);
    let train = Dataset::load(Path::new(&args[1]), &inputs)?;
    let pool = Dataset::load(Path::new(&args[2]), &inputs)?;
    let selection_size: usize = args.get(3).map_or(Ok(64), |s| s.parse())?;
    let threshold: f64 = args.get(4).map_or(Ok(1.0), |s| s.parse())?;
    let options = QuantizeOptions {
        train: TrainOptions {
            cycles: 2,
            ..TrainOptions::default()
        },
        metric: Some(Metric::Top1),
        low_bits: args.get(5).map_or(Ok(3), |s| s.parse())?,
        ..QuantizeOptions::default()
    };
    let base = prepare(&model, &options)?;
    let order = drift(&base, &train, &options.train, options.statistic, &mut Quiet)?.order;
    let evaluator = CandidateEvaluator::prepare(&base, &train, &pool, &options)?;
    let score = &evaluator.score;
    let hits_of = |p: PerSample| match p {
        PerSample::Hits(h) => h,
        PerSample::Fidelity { .. } => unreachable!("top-1 counts samples"),
    };
    let reference = hits_of(score.figures(&score.run(&base)?));
    let prefixes: Vec<Vec<bool>> = (0..=order.len())
        .map(|m| {
            let lowered = evaluator.candidates.lower(&order[..m])?;
            Ok(hits_of(score.figures(&score.run(&lowered.model)?)))
        })
        .collect::<Result<_, onnx_wdq::quantize::QuantizeError>>()?;
    let percent = |hits: &[bool], idx: &[usize]| {
        100.0 * idx.iter().filter(|&&i| hits[i]).count() as f64 / idx.len() as f64
    };
    let all: Vec<usize> = (0..pool.len).collect();
    println!(
        "{} layers at {} bits; pool {} samples; loss of each prefix on the whole pool (points): {}",
        order.len(),
        options.low_bits,
        pool.len,
        prefixes
            .iter()
            .map(|h| format!("{:.2}", percent(&reference, &all) - percent(h, &all)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for guard in [false, true] {
        let (mut exceeded, mut layers) = (0usize, 0usize);
        for _ in 0..SPLITS {
            let mut idx = all.clone();
            idx.shuffle(&mut rng);
            let (chosen_on, held) = idx.split_at(selection_size.min(pool.len - 1));
            let pick = |v: &[bool], at: &[usize]| at.iter().map(|&i| v[i]).collect::<Vec<bool>>();
            let ref_sel = pick(&reference, chosen_on);
            let ref_score = percent(&reference, chosen_on);
            let search_options = SearchOptions {
                selection: Selection::Bisect,
                threshold,
                goal: Goal::Loss,
                guard,
                skip_smallest: false,
                time_budget: None,
            };
            let mut evaluate = |low: &[usize]| -> Result<Measure, ()> {
                let m = low.len();
                let j = judge(
                    Metric::Top1,
                    &PerSample::Hits(pick(&prefixes[m], chosen_on)),
                    Some(&ref_sel),
                );
                Ok(Measure::full(j.score, Some(j.interval)))
            };
            let order_idx: Vec<usize> = (0..order.len()).collect();
            let outcome = search(
                &order_idx,
                &vec![0.0; order.len()],
                ref_score,
                &search_options,
                &mut evaluate,
            )
            .expect("in-memory evaluation");
            let m = if outcome.met_threshold {
                outcome.low_bit.len()
            } else {
                0
            };
            layers += m;
            let held_loss = percent(&reference, held) - percent(&prefixes[m], held);
            if held_loss > threshold + 1e-9 {
                exceeded += 1;
            }
        }
        println!(
            "{}: {SPLITS} splits of {selection_size} selection samples, threshold {threshold} points: \
             exceeded on held-back data {:.1}% of the time, {:.2} low-bit layers on average",
            if guard { "with --guard   " } else { "without --guard" },
            100.0 * exceeded as f64 / SPLITS as f64,
            layers as f64 / SPLITS as f64
        );
    }
    Ok(())
}
