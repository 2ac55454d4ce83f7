//! `--target`: the lowering options a target's profile
//! ([`wdq_lower::Profile`]) allows, from the user's explicit choices or the
//! profile's defaults. A choice the profile does not allow is an error
//! naming the option, the target and what it takes.

use wdq_lower::{
    ActivationType, BiasMode, Int4Storage, LowerOptions, ScaleMode, Target, WeightGranularity,
    WeightRange,
};

/// The user's explicit lowering choices (`None`: the target's default).
#[derive(Clone, Debug, Default)]
pub struct LowerChoices<'a> {
    pub granularity: Option<&'a str>,
    pub scale: Option<&'a str>,
    pub bias: Option<&'a str>,
    pub activations: Option<&'a str>,
    pub int4_storage: Option<&'a str>,
    pub weight_range: Option<&'a str>,
}

/// A choice the target does not take, or an unknown value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--{option} {value}: the {target} target takes {allowed}")]
pub struct TargetError {
    pub option: &'static str,
    pub value: String,
    pub target: &'static str,
    pub allowed: String,
}

/// One option: its CLI names per value, and the profile's list.
fn pick<T: Copy + PartialEq>(
    option: &'static str,
    choice: Option<&str>,
    names: &[(&str, T)],
    allowed: &[T],
    target: &'static str,
) -> Result<T, TargetError> {
    let name_of = |v: T| names.iter().find(|(_, x)| *x == v).map_or("?", |(n, _)| *n);
    let Some(text) = choice else {
        return Ok(allowed[0]);
    };
    match names.iter().find(|(n, _)| *n == text) {
        Some((_, v)) if allowed.contains(v) => Ok(*v),
        _ => Err(TargetError {
            option,
            value: text.to_string(),
            target,
            allowed: allowed
                .iter()
                .map(|v| name_of(*v))
                .collect::<Vec<_>>()
                .join(" or "),
        }),
    }
}

/// The lowering options for `target` given the user's `choices`.
///
/// # Errors
/// [`TargetError`] for a choice the target's profile does not take.
pub fn lower_options(
    target: Target,
    choices: &LowerChoices<'_>,
) -> Result<LowerOptions, TargetError> {
    let p = target.profile();
    let t = p.name;
    Ok(LowerOptions {
        granularity: pick(
            "granularity",
            choices.granularity,
            &[
                ("per-channel", WeightGranularity::PerChannel),
                ("per-tensor", WeightGranularity::PerTensor),
            ],
            p.granularity,
            t,
        )?,
        scale: pick(
            "scale",
            choices.scale,
            &[("float", ScaleMode::Float), ("pow2", ScaleMode::PowerOfTwo)],
            p.scale,
            t,
        )?,
        bias: pick(
            "bias",
            choices.bias,
            &[("int32", BiasMode::Int32), ("float", BiasMode::Float)],
            p.bias,
            t,
        )?,
        activations: pick(
            "activations",
            choices.activations,
            &[
                ("u8", ActivationType::U8),
                ("i8", ActivationType::I8),
                ("none", ActivationType::None),
            ],
            p.activations,
            t,
        )?,
        int4_storage: pick(
            "int4-storage",
            choices.int4_storage,
            &[("packed", Int4Storage::Packed), ("int8", Int4Storage::Int8)],
            p.int4_storage,
            t,
        )?,
        weight_range: pick(
            "weight-range",
            choices.weight_range,
            &[
                ("symmetric", WeightRange::Symmetric),
                ("full", WeightRange::Full),
            ],
            p.weight_range,
            t,
        )?,
        symmetric_activations: p.symmetric_activations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_profile_and_refusals_name_the_option() {
        let ort = lower_options(Target::OnnxRuntime, &LowerChoices::default()).unwrap();
        assert_eq!(ort, LowerOptions::default());
        let vitis = lower_options(Target::Vitis, &LowerChoices::default()).unwrap();
        assert_eq!(vitis.scale, ScaleMode::PowerOfTwo);
        assert_eq!(vitis.granularity, WeightGranularity::PerTensor);
        assert!(vitis.symmetric_activations);
        let err = lower_options(
            Target::Vitis,
            &LowerChoices {
                scale: Some("float"),
                ..LowerChoices::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--scale float: the vitis target takes pow2"
        );
        let trt = lower_options(
            Target::TensorRt,
            &LowerChoices {
                weight_range: Some("full"),
                ..LowerChoices::default()
            },
        );
        assert!(trt.is_err());
        let full = lower_options(
            Target::OpenVino,
            &LowerChoices {
                weight_range: Some("full"),
                ..LowerChoices::default()
            },
        )
        .unwrap();
        assert_eq!(full.weight_range, WeightRange::Full);
    }
}
