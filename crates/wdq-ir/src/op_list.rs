//! The README's lists of the ops that run and of the ops that train, made
//! from the metadata table ([`Op::ALL_META`]) so that they cannot drift:
//! a test compares the README section with [`readme_section`] and fails
//! with the text to paste.

use crate::op_meta::{Family, GradRule};
use crate::Op;

/// First line of the generated README section.
pub const BEGIN: &str = "<!-- ops:begin (generated from wdq-ir's op table; `cargo test -p wdq-ir readme_op_lists` checks it) -->";
/// Last line of the generated README section.
pub const END: &str = "<!-- ops:end -->";

/// Names of the default-domain ops the executor runs, sorted.
pub fn ops_that_run() -> Vec<&'static str> {
    sorted(
        Op::ALL_META
            .iter()
            .filter(|m| m.family != Family::NotRun)
            .map(|m| m.name),
    )
}

/// Names of the ops with a gradient rule (training goes through them), sorted.
pub fn ops_that_train() -> Vec<&'static str> {
    sorted(
        Op::ALL_META
            .iter()
            .filter(|m| m.family != Family::NotRun && m.grad != GradRule::NotDifferentiable)
            .map(|m| m.name),
    )
}

fn sorted(names: impl Iterator<Item = &'static str>) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = names.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The README section, markers included.
pub fn readme_section() -> String {
    let list = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (run, train) = (ops_that_run(), ops_that_train());
    format!(
        "{BEGIN}\n\
         Ops that run (forward, {} ops): {}.\n\n\
         Ops that train (they have a gradient rule; {} ops): {}.\n\
         {END}\n",
        run.len(),
        list(&run),
        train.len(),
        list(&train)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_op_lists_match_the_op_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let readme =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let want = readme_section();
        let found = readme.find(BEGIN).and_then(|start| {
            let end = readme[start..].find(END)? + start + END.len();
            Some(&readme[start..end])
        });
        assert_eq!(
            found.map(|s| format!("{s}\n")),
            Some(want.clone()),
            "README.md's op lists are out of date with the op table; replace the section \
             from `{BEGIN}` to `{END}` with:\n\n{want}"
        );
    }

    #[test]
    fn the_lists_are_not_empty_and_training_is_a_subset() {
        let (run, train) = (ops_that_run(), ops_that_train());
        assert!(run.contains(&"Conv") && train.contains(&"Conv"));
        assert!(train.iter().all(|op| run.contains(op)));
        assert!(train.len() < run.len(), "some ops run without a gradient");
    }
}
