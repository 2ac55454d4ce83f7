//! LSTM, GRU and RNN backward through time against central finite
//! differences (see `fd_harness` for the tolerance). Every output (`Y`,
//! `Y_h`, `Y_c`) reaches the objective: the checked model adds them
//! (the states broadcast over the time axis), so the gradients arriving at
//! all three outputs are exercised, and every operand but `sequence_lens`
//! (X, W, R, B, initial_h, initial_c, P) is differentiated.

use crate::common::Lcg;
use crate::fd_harness::{check, one_node, rand, In};
use wdq_ir::op::{AxesAttrs, RecurrentAttrs};
use wdq_ir::{Op, Tensor};

struct Rec {
    seq: usize,
    batch: usize,
    input: usize,
    hidden: usize,
    dirs: usize,
    layout: i64,
}

/// Checks `op` with every optional operand present; returns the worst
/// relative error.
fn check_recurrent(what: &str, op: Op, r: &Rec, rng: &mut Lcg) -> f64 {
    let (gates, lstm, outs) = match op {
        Op::LSTM(_) => (4, true, 3),
        Op::GRU(_) => (3, false, 2),
        _ => (1, false, 2),
    };
    let gh = gates * r.hidden;
    let x = if r.layout == 1 {
        [r.batch, r.seq, r.input]
    } else {
        [r.seq, r.batch, r.input]
    };
    let state = if r.layout == 1 {
        [r.batch, r.dirs, r.hidden]
    } else {
        [r.dirs, r.batch, r.hidden]
    };
    let mut inputs = vec![
        rand(rng, &x),
        rand(rng, &[r.dirs, gh, r.input]),
        rand(rng, &[r.dirs, gh, r.hidden]),
        rand(rng, &[r.dirs, 2 * gh]),
        In::Absent,
        rand(rng, &state),
    ];
    if lstm {
        inputs.push(rand(rng, &state));
        inputs.push(rand(rng, &[r.dirs, 3 * r.hidden]));
    }
    let (mut model, feeds) = one_node(op, 14, &inputs, outs);
    let g = &mut model.graph;
    let node = g.order[0];
    let ys: Vec<_> = (0..outs).map(|s| g.node(node).output(s).unwrap()).collect();
    let mut total = ys[0];
    let axis = g.add_initializer("axis", Tensor::from_i64(vec![1], vec![1]));
    for (i, &y) in ys[1..].iter().enumerate() {
        // Batch first: Y is [batch, seq, dirs, H], a state [batch, dirs, H].
        let y = if r.layout == 1 {
            let name = format!("state{i}");
            let op = Op::Unsqueeze(AxesAttrs::default());
            let n = g.add_node(name.as_str(), op, vec![Some(y), Some(axis)], &[&name], None);
            g.node(n).output(0).unwrap()
        } else {
            y
        };
        let name = format!("sum{i}");
        let add = g.add_node(
            name.as_str(),
            Op::Add,
            vec![Some(total), Some(y)],
            &[&name],
            None,
        );
        total = g.node(add).output(0).unwrap();
    }
    g.outputs = vec![total];
    check(what, &model, &feeds, 1e-2)
}

fn attrs(hidden: usize, direction: &str, layout: i64) -> RecurrentAttrs {
    RecurrentAttrs {
        hidden_size: Some(hidden as i64),
        direction: Some(direction.into()),
        layout: Some(layout),
        ..RecurrentAttrs::default()
    }
}

#[test]
fn lstm_gru_rnn_through_time() {
    let mut rng = Lcg(91);
    let small = |dirs, layout| Rec {
        seq: 3,
        batch: 2,
        input: 3,
        hidden: 2,
        dirs,
        layout,
    };
    let mut worst = Vec::new();
    let mut run = |what: &str, op: Op, r: Rec| {
        let e = check_recurrent(what, op, &r, &mut rng);
        worst.push(format!("{what}: {e:.2e}"));
    };
    run(
        "LSTM forward",
        Op::LSTM(attrs(2, "forward", 0)),
        small(1, 0),
    );
    run(
        "LSTM bidirectional layout 1",
        Op::LSTM(attrs(2, "bidirectional", 1)),
        small(2, 1),
    );
    run(
        "LSTM reverse clip 3",
        Op::LSTM(RecurrentAttrs {
            clip: Some(3.0),
            ..attrs(2, "reverse", 0)
        }),
        small(1, 0),
    );
    run(
        "LSTM activations HardSigmoid/Softsign/Tanh",
        Op::LSTM(RecurrentAttrs {
            activations: Some(vec!["HardSigmoid".into(), "Softsign".into(), "Tanh".into()]),
            activation_alpha: Some(vec![0.3]),
            activation_beta: Some(vec![0.45]),
            ..attrs(2, "forward", 0)
        }),
        small(1, 0),
    );
    run("GRU forward", Op::GRU(attrs(2, "forward", 0)), small(1, 0));
    run(
        "GRU linear_before_reset bidirectional",
        Op::GRU(RecurrentAttrs {
            linear_before_reset: Some(1),
            ..attrs(2, "bidirectional", 0)
        }),
        small(2, 0),
    );
    run(
        "GRU reverse layout 1",
        Op::GRU(attrs(2, "reverse", 1)),
        small(1, 1),
    );
    run("RNN forward", Op::RNN(attrs(2, "forward", 0)), small(1, 0));
    run(
        "RNN bidirectional Sigmoid",
        Op::RNN(RecurrentAttrs {
            activations: Some(vec!["Sigmoid".into()]),
            ..attrs(2, "bidirectional", 1)
        }),
        small(2, 1),
    );
    println!("{}", worst.join("\n"));
}
