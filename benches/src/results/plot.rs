//! The report's plots, drawn with plotters as PNG and SVG.
//!
//! For each bench: throughput against server cores, CPU-µs per request
//! against server cores, and the latency percentiles (p50, p99) at the
//! largest core count, one line per system and case. Text needs a TrueType
//! font (plotters' `ab_glyph` backend has none built in): the first of
//! [`FONT_PATHS`] that exists is loaded once per process.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::results::summary::{Series, Stat};

/// Where the font is looked for (Debian's fonts-dejavu-core first).
pub const FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// One line of a chart: its label and its points.
pub struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// A chart: title, axis labels, lines.
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub lines: Vec<Line>,
}

/// The charts of one bench, named by file stem (`echo-throughput`, ...).
pub fn charts_of(bench: &str, series: &[Series]) -> Vec<(String, Chart)> {
    let of: Vec<&Series> = series.iter().filter(|s| s.key.bench == bench).collect();
    let mut labels: Vec<(String, String)> = Vec::new();
    for s in &of {
        let l = (s.key.system.clone(), s.key.case.clone());
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    let by_cores = |get: fn(&Series) -> Option<Stat>| -> Vec<Line> {
        labels
            .iter()
            .map(|(system, case)| {
                let mut points: Vec<(f64, f64)> = of
                    .iter()
                    .filter(|s| &s.key.system == system && &s.key.case == case)
                    .filter_map(|s| get(s).map(|m| (s.key.cores as f64, m.median)))
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                Line {
                    label: format!("{system} {case}"),
                    points,
                }
            })
            .filter(|l| !l.points.is_empty())
            .collect()
    };
    let max_cores = of.iter().map(|s| s.key.cores).max().unwrap_or(1);
    let latency: Vec<Line> = labels
        .iter()
        .filter_map(|(system, case)| {
            let s = of.iter().find(|s| {
                &s.key.system == system && &s.key.case == case && s.key.cores == max_cores
            })?;
            let points: Vec<(f64, f64)> = [(50.0, s.p50_us), (99.0, s.p99_us)]
                .into_iter()
                .filter_map(|(p, m)| m.map(|m| (p, m.median)))
                .collect();
            (!points.is_empty()).then(|| Line {
                label: format!("{system} {case}"),
                points,
            })
        })
        .collect();
    let mut charts = vec![(
        format!("{bench}-throughput"),
        Chart {
            title: format!("{bench}: throughput"),
            x_label: "server cores".into(),
            y_label: "ops/s (median of rounds)".into(),
            lines: by_cores(|s| Some(s.ops_per_sec)),
        },
    )];
    let cpu = by_cores(|s| s.cpu_us_per_req);
    if !cpu.is_empty() {
        charts.push((
            format!("{bench}-cpu"),
            Chart {
                title: format!("{bench}: server CPU per request"),
                x_label: "server cores".into(),
                y_label: "CPU-µs per request".into(),
                lines: cpu,
            },
        ));
    }
    if !latency.is_empty() {
        charts.push((
            format!("{bench}-latency"),
            Chart {
                title: format!("{bench}: latency at {max_cores} core(s)"),
                x_label: "percentile".into(),
                y_label: "latency µs".into(),
                lines: latency,
            },
        ));
    }
    charts
}

/// Draws `chart` as `<dir>/<stem>.png` and `<dir>/<stem>.svg`; returns the
/// PNG's path.
///
/// # Errors
///
/// No font found, or plotters' error drawing or writing the files.
pub fn draw(chart: &Chart, dir: &Path, stem: &str) -> io::Result<PathBuf> {
    load_font()?;
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    {
        let root = BitMapBackend::new(&png, (900, 540)).into_drawing_area();
        draw_on(&root, chart).map_err(io::Error::other)?;
        root.present().map_err(io::Error::other)?;
    }
    {
        let root = SVGBackend::new(&svg, (900, 540)).into_drawing_area();
        draw_on(&root, chart).map_err(io::Error::other)?;
        root.present().map_err(io::Error::other)?;
    }
    Ok(png)
}

fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let points = chart.lines.iter().flat_map(|l| l.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
    for &(x, y) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    // A single x (one core count) still gets a readable axis around it.
    let pad = ((x1 - x0) * 0.1).max(0.5);
    let y1 = if y1 > 0.0 { y1 * 1.15 } else { 1.0 };
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d((x0 - pad)..(x1 + pad), 0.0..y1)?;
    ctx.configure_mesh()
        .x_desc(&chart.x_label)
        .y_desc(&chart.y_label)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .y_label_formatter(&|y| crate::results::compare::figure(*y))
        // Cores and percentiles are whole numbers: no label between them.
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        })
        .draw()?;
    for (i, line) in chart.lines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        ctx.draw_series(LineSeries::new(
            line.points.iter().copied(),
            color.stroke_width(2),
        ))?
        .label(&line.label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
        ctx.draw_series(
            line.points
                .iter()
                .map(|&p| Circle::new(p, 4, color.filled())),
        )?;
    }
    ctx.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    Ok(())
}

/// Registers the first font of [`FONT_PATHS`] with plotters, once.
fn load_font() -> io::Result<()> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let path = FONT_PATHS
                .iter()
                .find(|p| Path::new(p).exists())
                .ok_or_else(|| {
                    format!(
                        "no font for the plots: install fonts-dejavu-core (looked for {})",
                        FONT_PATHS.join(", ")
                    )
                })?;
            let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
            // plotters keeps registered fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("{path}: not a font plotters can read"))
        })
        .clone()
        .map_err(io::Error::other)
}
