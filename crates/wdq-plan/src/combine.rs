//! Several outputs' per-sample figures combined into one set, and figures
//! merged field by field (also batch after batch).

use crate::metric::PerSample;

impl PerSample {
    /// Merges `other` into `self` field by field: `hits` on the hits,
    /// `values` on each of the energies and cosines. False (and `self`
    /// unchanged) when the kinds differ.
    pub fn merge(
        &mut self,
        other: PerSample,
        hits: impl Fn(&mut Vec<bool>, Vec<bool>),
        values: impl Fn(&mut Vec<f64>, Vec<f64>),
    ) -> bool {
        match (self, other) {
            (PerSample::Hits(a), PerSample::Hits(b)) => hits(a, b),
            (
                PerSample::Fidelity {
                    signal,
                    noise,
                    cosine,
                },
                PerSample::Fidelity {
                    signal: s,
                    noise: e,
                    cosine: c,
                },
            ) => {
                values(signal, s);
                values(noise, e);
                values(cosine, c);
            }
            _ => return false,
        }
        true
    }
}

/// Combines several outputs' figures for the same samples: a sample counts
/// when it counts on every output; energies are summed after dividing each
/// output's by its mean reference energy (each output weighs the same);
/// cosines are averaged.
pub fn combine(parts: Vec<PerSample>) -> PerSample {
    let means: Vec<Option<f64>> = parts.iter().map(signal_mean).collect();
    combine_scaled(parts, &means)
}

/// [`combine`] with each output's mean reference energy given (`means`,
/// from [`signal_mean`] over every sample), so that figures of a part of
/// the samples are scaled exactly as the whole set's.
pub fn combine_scaled(parts: Vec<PerSample>, means: &[Option<f64>]) -> PerSample {
    let mut parts = parts.into_iter().zip(means.iter().copied());
    let Some((mut acc, mean)) = parts.next() else {
        return PerSample::Hits(Vec::new());
    };
    let mut count = 1.0;
    normalise(&mut acc, mean);
    for (mut next, mean) in parts {
        normalise(&mut next, mean);
        count += 1.0;
        acc.merge(
            next,
            |a, b| a.iter_mut().zip(b).for_each(|(x, y)| *x &= y),
            |a, b| a.iter_mut().zip(b).for_each(|(x, y)| *x += y),
        );
    }
    if let PerSample::Fidelity { cosine, .. } = &mut acc {
        cosine.iter_mut().for_each(|c| *c /= count);
    }
    acc
}

/// The mean reference energy per sample of a fidelity part, when positive
/// (what [`combine`] divides its energies by).
pub fn signal_mean(p: &PerSample) -> Option<f64> {
    match p {
        PerSample::Fidelity { signal, .. } => {
            let mean = signal.iter().sum::<f64>() / signal.len().max(1) as f64;
            (mean > 0.0).then_some(mean)
        }
        PerSample::Hits(_) => None,
    }
}

fn normalise(p: &mut PerSample, mean: Option<f64>) {
    if let (PerSample::Fidelity { signal, noise, .. }, Some(mean)) = (p, mean) {
        signal.iter_mut().for_each(|x| *x /= mean);
        noise.iter_mut().for_each(|x| *x /= mean);
    }
}
