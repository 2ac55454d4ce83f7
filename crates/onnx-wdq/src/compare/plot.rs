//! The comparison's charts, as SVG text (plotters' SVG backend: text is
//! written as `<text>` elements, so no font file is read).
//!
//! - [`loss_curves`]: loss in points against m, one 2-pixel polyline per
//!   criterion and one for the random orders' mean (over a min-max band),
//!   the threshold as a 1-pixel polyline in [`THRESHOLD_COLOR`]. Legend
//!   swatches are rectangles in a column right of the chart; axes are drawn
//!   as other 1-pixel polylines.
//! - [`drift_bars`]: the `--statistic` drift of each layer, one horizontal
//!   bar ([`BAR_COLOR`]) per layer, graph order top to bottom, its value
//!   written at its end.
//! - [`pareto`]: accuracy against weight bytes of every evaluated
//!   candidate, one circle each, the Pareto front in [`FRONT_COLOR`] and
//!   joined by one polyline.

use super::report::CompareReport;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::{
    ChartBuilder, Circle, IntoDrawingArea, IntoSegmentedCoord, LineSeries, Polygon, Rectangle,
    SVGBackend,
};
use plotters::style::{Color, RGBColor, BLACK, WHITE};

/// Fill of the drift bars.
pub const BAR_COLOR: RGBColor = RGBColor(76, 114, 176);
/// Colour of the Pareto-front points and line.
pub const FRONT_COLOR: RGBColor = RGBColor(214, 39, 40);
/// Colour of the threshold line.
pub const THRESHOLD_COLOR: RGBColor = RGBColor(200, 0, 0);
const PALETTE: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
    RGBColor(0, 0, 128),
    RGBColor(128, 128, 0),
    RGBColor(0, 128, 128),
];
const SIZE: (u32, u32) = (900, 560);
/// Width of the legend column right of the loss curves.
const LEGEND_WIDTH: u32 = 380;

/// A chart that could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("drawing {chart}: {message}")]
pub struct PlotError {
    pub chart: &'static str,
    pub message: String,
}

fn fail<E: std::fmt::Display>(chart: &'static str) -> impl Fn(E) -> PlotError {
    move |e| PlotError {
        chart,
        message: e.to_string(),
    }
}

/// Finite bounds of `values` padded by 5% (and at least 0.5), or (0, 1).
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(0.5);
    (lo - pad, hi + pad)
}

/// The loss-curve chart.
///
/// # Errors
/// [`PlotError`] when plotters fails.
pub fn loss_curves(report: &CompareReport) -> Result<String, PlotError> {
    let err = fail("loss_curves.svg");
    let n = report.layers.len() as f64;
    let mut all = vec![report.threshold, 0.0];
    all.extend(
        report
            .criteria
            .iter()
            .flat_map(|c| c.curve.iter().map(|p| p.loss)),
    );
    if let Some(r) = &report.random {
        all.extend(r.spread.min.iter().chain(&r.spread.max));
    }
    let (lo, hi) = padded(all.into_iter());
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (SIZE.0 + LEGEND_WIDTH, SIZE.1)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let (plot_area, legend_area) = root.split_horizontally(SIZE.0);
        let mut legend: Vec<(String, RGBColor, u32)> = Vec::new();
        let caption = format!(
            "accuracy loss ({}, points vs {}) with the first m layers at {} bits, the rest at {}",
            report.metric,
            if report.reference == crate::quantize::Reference::Fp32 {
                "fp32"
            } else {
                "all high bits"
            },
            report.low_bits,
            report.high_bits
        );
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(caption, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.1..n + 0.1, lo..hi)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc("m (low-bit layers, in criterion order)")
            .y_desc("loss (points)")
            .x_labels(report.layers.len() + 1)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(&err)?;
        if let Some(r) = &report.random {
            let ms: Vec<f64> = report.prefix_lengths.iter().map(|&m| m as f64).collect();
            let mut band: Vec<(f64, f64)> = ms
                .iter()
                .copied()
                .zip(r.spread.max.iter().copied())
                .collect();
            band.extend(ms.iter().copied().zip(r.spread.min.iter().copied()).rev());
            chart
                .draw_series(std::iter::once(Polygon::new(band, BLACK.mix(0.12))))
                .map_err(&err)?;
            let mean: Vec<(f64, f64)> = ms
                .iter()
                .copied()
                .zip(r.spread.mean.iter().copied())
                .collect();
            chart
                .draw_series(LineSeries::new(mean, BLACK.stroke_width(2)))
                .map_err(&err)?;
            legend.push((
                format!("random: mean of {} (band: min-max)", r.runs.len()),
                BLACK,
                8,
            ));
        }
        for (i, c) in report.criteria.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let points: Vec<(f64, f64)> = c.curve.iter().map(|p| (p.m as f64, p.loss)).collect();
            let same = report.criteria[..i].iter().find(|d| d.order == c.order);
            let label = match same {
                Some(d) => format!(
                    "{} (AUC {:.2}; same order as {})",
                    c.criterion, c.auc, d.criterion
                ),
                None => format!("{} (AUC {:.2})", c.criterion, c.auc),
            };
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(&err)?;
            legend.push((label, color, 8));
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(&err)?;
        }
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, report.threshold), (n, report.threshold)],
                THRESHOLD_COLOR,
            ))
            .map_err(&err)?;
        legend.push((
            format!("threshold {:.2}", report.threshold),
            THRESHOLD_COLOR,
            2,
        ));
        for (k, (label, color, height)) in legend.into_iter().enumerate() {
            let y = 50 + 22 * k as i32;
            let half = height as i32 / 2;
            legend_area
                .draw(&Rectangle::new(
                    [(4, y - half), (22, y + half)],
                    color.filled(),
                ))
                .map_err(&err)?;
            legend_area
                .draw(&plotters::element::Text::new(
                    label,
                    (30, y - 7),
                    plotters::style::IntoFont::into_font(("sans-serif", 13)),
                ))
                .map_err(&err)?;
        }
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

/// The drift bar chart, or `None` when no drift criterion ran.
///
/// # Errors
/// [`PlotError`] when plotters fails.
pub fn drift_bars(report: &CompareReport) -> Result<Option<String>, PlotError> {
    let err = fail("drift.svg");
    let Some(training) = &report.training else {
        return Ok(None);
    };
    let labels: Vec<String> = report.layers.iter().map(|l| l.node.clone()).collect();
    let n = labels.len();
    let values = &training.drift;
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((0f64, 0f64), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    // Layers top to bottom in graph order: layer i sits in row n - 1 - i.
    let row = |i: usize| n.saturating_sub(1 + i);
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    let height = (120 + 34 * n as u32).max(SIZE.1 / 2);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, height)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let caption = format!(
            "weight drift ({} of W[k] - W0 over {} cycles) per layer, graph order",
            training.statistic, training.cycles
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(20 + 7 * longest)
            .build_cartesian_2d(lo..hi + span * 0.18, (0..n.max(2) - 1).into_segmented())
            .map_err(&err)?;
        let name = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(r) => labels.get(row(*r)).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_desc("layer")
            .x_desc(training.statistic.as_str())
            .y_labels(n)
            .y_label_formatter(&name)
            .x_label_formatter(&|x| format!("{x:.2e}"))
            .draw()
            .map_err(&err)?;
        let finite = || values.iter().enumerate().filter(|(_, v)| v.is_finite());
        let bars = finite().map(|(i, &v)| {
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(row(i))),
                    (v, SegmentValue::Exact(row(i) + 1)),
                ],
                BAR_COLOR.filled(),
            );
            bar.set_margin(6, 6, 0, 0);
            bar
        });
        chart.draw_series(bars).map_err(&err)?;
        let notes = finite().map(|(i, &v)| {
            plotters::element::Text::new(
                format!("{v:.3e}"),
                (v + span * 0.01, SegmentValue::CenterOf(row(i))),
                plotters::style::IntoFont::into_font(("sans-serif", 13)),
            )
        });
        chart.draw_series(notes).map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(Some(svg))
}

/// The accuracy-against-size chart of every evaluated candidate.
///
/// # Errors
/// [`PlotError`] when plotters fails.
pub fn pareto(report: &CompareReport) -> Result<String, PlotError> {
    let err = fail("pareto.svg");
    let (x_lo, x_hi) = padded(report.candidates.iter().map(|c| c.weight_bytes as f64));
    let (y_lo, y_hi) = padded(report.candidates.iter().map(|c| c.accuracy));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let caption = format!(
            "{} on validation against weight bytes: {} evaluated candidates, Pareto front in red",
            report.metric,
            report.candidates.len()
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x_lo.max(0.0)..x_hi, y_lo..y_hi.min(100.5))
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc("weight bytes (constant tensors of the lowered model)")
            .y_desc("accuracy (%)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(&err)?;
        let others = report.candidates.iter().filter(|c| !c.pareto);
        chart
            .draw_series(
                others.map(|c| {
                    Circle::new((c.weight_bytes as f64, c.accuracy), 4, PALETTE[8].filled())
                }),
            )
            .map_err(&err)?
            .label("candidate")
            .legend(|(x, y)| Rectangle::new([(x, y - 4), (x + 8, y + 4)], PALETTE[8].filled()));
        let mut front: Vec<(f64, f64)> = report
            .candidates
            .iter()
            .filter(|c| c.pareto)
            .map(|c| (c.weight_bytes as f64, c.accuracy))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(front.clone(), FRONT_COLOR.stroke_width(2)))
            .map_err(&err)?;
        chart
            .draw_series(
                front
                    .into_iter()
                    .map(|p| Circle::new(p, 5, FRONT_COLOR.filled())),
            )
            .map_err(&err)?
            .label("Pareto front")
            .legend(|(x, y)| Rectangle::new([(x, y - 4), (x + 8, y + 4)], FRONT_COLOR.filled()));
        chart
            .configure_series_labels()
            .position(plotters::chart::SeriesLabelPosition::LowerRight)
            .label_font(("sans-serif", 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(svg)
}
