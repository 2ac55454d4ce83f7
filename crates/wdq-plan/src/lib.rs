//! Planning: order the layers by a criterion (ascending: the first layers
//! are the best candidates for fewer bits) and search for how many of them
//! can go to low bits within an accuracy-loss threshold (steps 4 to 6 of the
//! method).
//!
//! The search knows nothing of models: it asks a caller-supplied evaluator
//! for the accuracy of "the first m layers of the order at low bits", so the
//! same strategies serve every criterion and every runtime.

mod combine;
pub mod criteria;
mod curve;
pub mod early;
mod goal;
pub mod metric;
mod order;
mod search;
mod statistic;
pub mod stats;

pub use curve::{
    area_under_curve, largest_within, mean_std, pareto_front, prefix_lengths, spread, CurveSpread,
};
pub use goal::{Bar, Goal, Measure, Stopped};
pub use order::{rank_ascending, rank_descending};
pub use search::{search, Candidate, SearchOptions, SearchOutcome, Selection};
pub use statistic::Statistic;
