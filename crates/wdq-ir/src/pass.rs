//! A small pass driver. A pass has a name and turns a model into a model
//! (or says it left it unchanged); [`run_passes`] verifies the graph after
//! every pass that changed it and names the pass in every error, so that no
//! pass needs its own `verify` call.

use crate::{verify, Model, VerifyError};

/// Whether a pass changed the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Changed {
    Yes,
    No,
}

/// One model-to-model transformation.
pub trait Pass {
    /// The pass's own error.
    type Error: std::error::Error + 'static;

    /// A short name for errors and logs (`opset-conversion`, `lower`, ...).
    fn name(&self) -> &str;

    /// Transforms `model` in place.
    ///
    /// # Errors
    /// The pass's own error; the model may then be partly transformed.
    fn run(&mut self, model: &mut Model) -> Result<Changed, Self::Error>;
}

/// A pass failed, or left a graph that breaks an IR invariant.
#[derive(Debug, thiserror::Error)]
pub enum PassError<E: std::error::Error + 'static> {
    #[error("{pass}: {source}")]
    Failed {
        pass: String,
        #[source]
        source: E,
    },
    #[error("{pass} left an invalid graph: {source}")]
    Invalid {
        pass: String,
        #[source]
        source: VerifyError,
    },
}

/// Runs `passes` in order on `model`, verifying after each that changed it.
/// Returns, per pass, whether it changed the model.
///
/// # Errors
/// [`PassError`] naming the pass that failed or broke the graph.
pub fn run_passes<E: std::error::Error + 'static>(
    model: &mut Model,
    passes: &mut [&mut dyn Pass<Error = E>],
) -> Result<Vec<Changed>, PassError<E>> {
    let mut changed = Vec::with_capacity(passes.len());
    for pass in passes.iter_mut() {
        let c = pass.run(model).map_err(|source| PassError::Failed {
            pass: pass.name().to_string(),
            source,
        })?;
        if c == Changed::Yes {
            verify(&model.graph).map_err(|source| PassError::Invalid {
                pass: pass.name().to_string(),
                source,
            })?;
        }
        changed.push(c);
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Graph, ValueId};

    #[derive(Debug, thiserror::Error)]
    #[error("refused")]
    struct Refused;

    struct Rename;
    impl Pass for Rename {
        type Error = Refused;
        fn name(&self) -> &str {
            "rename"
        }
        fn run(&mut self, model: &mut Model) -> Result<Changed, Refused> {
            model.graph.name = "renamed".into();
            Ok(Changed::Yes)
        }
    }

    struct Break;
    impl Pass for Break {
        type Error = Refused;
        fn name(&self) -> &str {
            "break"
        }
        fn run(&mut self, model: &mut Model) -> Result<Changed, Refused> {
            model.graph.outputs.push(ValueId(99));
            Ok(Changed::Yes)
        }
    }

    struct Fail;
    impl Pass for Fail {
        type Error = Refused;
        fn name(&self) -> &str {
            "fail"
        }
        fn run(&mut self, _: &mut Model) -> Result<Changed, Refused> {
            Err(Refused)
        }
    }

    fn model() -> Model {
        Model {
            graph: Graph::default(),
            ..Model::default()
        }
    }

    #[test]
    fn passes_run_in_order_and_errors_name_the_pass() {
        let mut m = model();
        let changed = run_passes(&mut m, &mut [&mut Rename]).unwrap();
        assert_eq!(
            (changed, m.graph.name.as_str()),
            (vec![Changed::Yes], "renamed")
        );
        let err = run_passes(&mut model(), &mut [&mut Rename, &mut Break]).unwrap_err();
        assert!(
            matches!(&err, PassError::Invalid { pass, .. } if pass == "break"),
            "{err}"
        );
        let err = run_passes(&mut model(), &mut [&mut Fail, &mut Rename]).unwrap_err();
        assert_eq!(err.to_string(), "fail: refused");
    }
}
