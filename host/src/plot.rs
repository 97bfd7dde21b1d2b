//! Learning curves of a run as an SVG image: accuracy and loss per epoch for every split.
//!
//! The SVG is written by hand (lines, axes and text elements only), so a plot needs no font or
//! graphics library and opens in any browser.

use std::fmt::Write as _;

use crate::metrics::{MetricsRow, Split};

/// Width and height of one panel's plotting area, in SVG user units (pixels).
const PANEL_WIDTH: f64 = 420.0;
const PANEL_HEIGHT: f64 = 260.0;
/// Space around each panel for the axis labels and the title.
const MARGIN_LEFT: f64 = 60.0;
const MARGIN_TOP: f64 = 40.0;
const MARGIN_BOTTOM: f64 = 45.0;
const PANEL_GAP: f64 = 80.0;

fn colour(split: Split) -> &'static str {
    match split {
        Split::Train => "#1f77b4",
        Split::Validation => "#ff7f0e",
        Split::Test => "#2ca02c",
    }
}

/// One panel: a quantity against the epoch.
struct Panel {
    title: &'static str,
    value: fn(&MetricsRow) -> f64,
    x0: f64,
}

/// Renders the learning curves of `history` as an SVG document titled `title`.
pub fn learning_curves_svg(history: &[MetricsRow], title: &str) -> String {
    let panels = [
        Panel { title: "accuracy", value: |row| row.accuracy, x0: MARGIN_LEFT },
        Panel { title: "loss", value: |row| row.loss, x0: 2.0 * MARGIN_LEFT + PANEL_WIDTH + PANEL_GAP },
    ];
    let width = 2.0 * (MARGIN_LEFT + PANEL_WIDTH) + PANEL_GAP + 20.0;
    let height = MARGIN_TOP + PANEL_HEIGHT + MARGIN_BOTTOM + 30.0;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(svg, r#"<text x="{}" y="18" font-size="14" text-anchor="middle">{}</text>"#, width / 2.0, escape(title));

    let last_epoch = history.iter().map(|row| row.epoch).max().unwrap_or(1).max(1);
    for panel in &panels {
        draw_panel(&mut svg, panel, history, last_epoch);
    }

    // Legend under the panels.
    let legend_y = MARGIN_TOP + PANEL_HEIGHT + MARGIN_BOTTOM + 15.0;
    for (k, split) in Split::ALL.into_iter().enumerate() {
        let x = MARGIN_LEFT + 120.0 * k as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{x}" y1="{legend_y}" x2="{}" y2="{legend_y}" stroke="{}" stroke-width="2"/><text x="{}" y="{}">{split}</text>"#,
            x + 20.0,
            colour(split),
            x + 26.0,
            legend_y + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn draw_panel(svg: &mut String, panel: &Panel, history: &[MetricsRow], last_epoch: usize) {
    let values: Vec<f64> = history.iter().map(panel.value).filter(|v| v.is_finite()).collect();
    let (mut low, mut high) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    if !low.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    if high - low < 1e-9 {
        (low, high) = (low - 0.5, high + 0.5);
    }
    let pad = 0.05 * (high - low);
    let (low, high) = (low - pad, high + pad);

    let x_of = |epoch: usize| {
        let span = (last_epoch.max(2) - 1) as f64;
        panel.x0 + PANEL_WIDTH * (epoch.saturating_sub(1)) as f64 / span
    };
    let y_of = |value: f64| MARGIN_TOP + PANEL_HEIGHT * (1.0 - (value - low) / (high - low));

    // Frame, title and axis labels.
    let _ = writeln!(
        svg,
        r#"<rect x="{}" y="{MARGIN_TOP}" width="{PANEL_WIDTH}" height="{PANEL_HEIGHT}" fill="none" stroke="black"/>"#,
        panel.x0
    );
    let _ = writeln!(svg, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, panel.x0 + PANEL_WIDTH / 2.0, MARGIN_TOP - 8.0, panel.title);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">epoch</text>"#,
        panel.x0 + PANEL_WIDTH / 2.0,
        MARGIN_TOP + PANEL_HEIGHT + 34.0
    );

    // Five ticks on each axis.
    for k in 0..=4 {
        let value = low + (high - low) * k as f64 / 4.0;
        let y = y_of(value);
        let _ = writeln!(
            svg,
            r##"<line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            panel.x0,
            panel.x0 + PANEL_WIDTH,
            panel.x0 - 6.0,
            y + 4.0,
            tick_label(value, high - low)
        );
        let epoch = 1 + (last_epoch - 1) * k / 4;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{epoch}</text>"#,
            x_of(epoch),
            MARGIN_TOP + PANEL_HEIGHT + 16.0
        );
    }

    // One polyline per split; a single epoch is drawn as a dot.
    for split in Split::ALL {
        let points: Vec<(f64, f64)> = history
            .iter()
            .filter(|row| row.split == split && (panel.value)(row).is_finite())
            .map(|row| (x_of(row.epoch), y_of((panel.value)(row))))
            .collect();
        match points.len() {
            0 => {}
            1 => {
                let _ = writeln!(svg, r#"<circle cx="{}" cy="{}" r="3" fill="{}"/>"#, points[0].0, points[0].1, colour(split));
            }
            _ => {
                let list: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let _ = writeln!(
                    svg,
                    r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5"/>"#,
                    list.join(" "),
                    colour(split)
                );
            }
        }
    }
}

/// Formats a tick value with as many decimals as the axis range needs.
fn tick_label(value: f64, range: f64) -> String {
    let decimals = (-(range / 4.0).log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{value:.decimals$}")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(epoch: usize, split: Split, accuracy: f64, loss: f64) -> MetricsRow {
        MetricsRow { epoch, split, accuracy, loss, saturations: 0 }
    }

    #[test]
    fn curves_have_one_line_per_split_and_panel() {
        let history: Vec<MetricsRow> = (1..=3)
            .flat_map(|e| Split::ALL.map(|s| row(e, s, 0.5 + 0.1 * e as f64, 1.0 / e as f64)))
            .collect();
        let svg = learning_curves_svg(&history, "run <a>");
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 6);
        assert!(svg.contains("run &lt;a&gt;"));
        assert!(!svg.contains("NaN"));
        assert!(!svg.contains("inf"));
    }

    #[test]
    fn single_epoch_and_non_finite_values() {
        let history = vec![row(1, Split::Train, 0.4, f64::NAN), row(1, Split::Test, 0.3, 2.0)];
        let svg = learning_curves_svg(&history, "one epoch");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(!svg.contains("NaN"));
        let empty = learning_curves_svg(&[], "empty");
        assert!(empty.contains("</svg>"));
        assert!(!empty.contains("NaN"));
    }
}
