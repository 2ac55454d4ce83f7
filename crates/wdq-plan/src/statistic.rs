//! The drift statistic that ranks the layers: which per-cycle figure of
//! D[k] = W[k] - W0 (computed by wdq-train) a drift order sorts by.

use serde::Serialize;

/// Which per-cycle figure ranks the layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Statistic {
    /// mean(D^2): the method's default.
    MeanSquare,
    Mean,
    Variance,
    Std,
    MeanAbs,
}

impl Statistic {
    /// All statistics, in CLI order.
    pub const ALL: [Statistic; 5] = [
        Statistic::MeanSquare,
        Statistic::Mean,
        Statistic::Variance,
        Statistic::Std,
        Statistic::MeanAbs,
    ];

    /// The CLI name (`mean-square`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Statistic::MeanSquare => "mean-square",
            Statistic::Mean => "mean",
            Statistic::Variance => "variance",
            Statistic::Std => "std",
            Statistic::MeanAbs => "mean-abs",
        }
    }

    /// Parses a CLI name.
    pub fn parse(name: &str) -> Option<Statistic> {
        Statistic::ALL.into_iter().find(|s| s.name() == name)
    }
}
