//! Graph inputs that carry an initializer (the IR-3 convention of the
//! model zoo: every weight is also listed as an input) are default values
//! that a caller may override. A model is quantized for the weights it
//! ships, so [`WeightsNotInputs`] takes such inputs off the input list:
//! they become constants that folding and layer discovery see, as
//! onnxruntime does when they are not fed.

use crate::pass::{Changed, Pass};
use crate::{Model, ValueDef};
use std::convert::Infallible;

/// Removes every initializer-backed value from the graph's inputs.
#[derive(Debug, Default)]
pub struct WeightsNotInputs {
    /// How many inputs the last run turned into constants.
    pub removed: usize,
}

impl Pass for WeightsNotInputs {
    type Error = Infallible;

    fn name(&self) -> &str {
        "weights-not-inputs"
    }

    fn run(&mut self, model: &mut Model) -> Result<Changed, Infallible> {
        let graph = &mut model.graph;
        let before = graph.inputs.len();
        let inputs = std::mem::take(&mut graph.inputs);
        graph.inputs = inputs
            .into_iter()
            .filter(|v| !matches!(graph.value(*v).def, ValueDef::Initializer(_)))
            .collect();
        self.removed = before - graph.inputs.len();
        Ok(if self.removed == 0 {
            Changed::No
        } else {
            Changed::Yes
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{layer_units, DType, Graph, Op, Tensor, TensorType};

    /// An IR-3 style Gemm: its weight is an initializer listed as an input.
    fn ir3_gemm() -> Model {
        let mut graph = Graph::default();
        let x = graph.add_value(
            "x",
            Some(TensorType::known(DType::F32, &[1, 2])),
            ValueDef::Input,
        );
        let w = graph.add_initializer("w", Tensor::from_f32(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]));
        graph.inputs = vec![x, w];
        let gemm = graph.add_node(
            "gemm",
            Op::Gemm(Default::default()),
            vec![Some(x), Some(w)],
            &["y"],
            None,
        );
        graph.outputs = vec![graph.node(gemm).outputs[0].unwrap()];
        Model {
            graph,
            ..Model::default()
        }
    }

    #[test]
    fn an_initializer_listed_as_input_becomes_a_weight() {
        let mut model = ir3_gemm();
        assert!(
            layer_units(&model.graph).is_empty(),
            "an overridable input is no weight"
        );
        let mut pass = WeightsNotInputs::default();
        assert_eq!(pass.run(&mut model).unwrap(), Changed::Yes);
        assert_eq!(pass.removed, 1);
        assert_eq!(model.graph.inputs.len(), 1);
        assert_eq!(model.graph.value(model.graph.inputs[0]).name, "x");
        assert_eq!(layer_units(&model.graph).len(), 1);
        assert_eq!(pass.run(&mut model).unwrap(), Changed::No);
    }
}
