//! `--plot FILE.png`: the run over time. Top: send→receive p50 and p99 per
//! second; bottom: deliveries per second. Text is drawn with a system
//! TrueType font (DejaVu Sans, Debian's `fonts-dejavu-core`).

use std::path::Path;

use anyhow::{anyhow, Context as _};
use plotters::prelude::*;

use crate::stats::Second;

const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers the font once per process (plotters keeps it for good).
fn register_font() -> anyhow::Result<()> {
    static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let bytes = FONTS
                .iter()
                .find_map(|p| std::fs::read(p).ok())
                .ok_or("no TrueType font found (apt install fonts-dejavu-core)")?;
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| "the font file is unreadable".to_owned())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// Draws `seconds` (one entry per second with deliveries) into a PNG.
pub fn draw(path: &Path, title: &str, seconds: &[Second]) -> anyhow::Result<()> {
    register_font()?;
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(340);
    let first = seconds.first().map_or(0, |s| s.t);
    let last = seconds.last().map_or(1, |s| s.t + 1);
    let ms_max = seconds.iter().map(|s| s.deliver_p99_ms).fold(1.0, f64::max) * 1.1;
    let mut latency = ChartBuilder::on(&top)
        .caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(first..last, 0f64..ms_max)?;
    latency
        .configure_mesh()
        .light_line_style(BLACK.mix(0.04))
        .x_desc("seconds since start")
        .y_desc("send→receive, ms")
        .draw()?;
    for (label, color, value) in [
        (
            "p50",
            BLUE,
            (|s: &Second| s.deliver_p50_ms) as fn(&Second) -> f64,
        ),
        ("p99", RED, |s: &Second| s.deliver_p99_ms),
    ] {
        latency
            .draw_series(LineSeries::new(
                seconds.iter().map(|s| (s.t, value(s))),
                color.stroke_width(2),
            ))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    latency
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    let delivered_max = seconds.iter().map(|s| s.delivered).max().unwrap_or(1) * 11 / 10 + 1;
    let mut throughput = ChartBuilder::on(&bottom)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(first..last, 0u64..delivered_max)?;
    throughput
        .configure_mesh()
        .light_line_style(BLACK.mix(0.04))
        .x_desc("seconds since start")
        .y_desc("deliveries/s")
        .draw()?;
    throughput.draw_series(
        seconds
            .iter()
            .map(|s| Rectangle::new([(s.t, 0), (s.t + 1, s.delivered)], BLACK.mix(0.3).filled())),
    )?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png_of_the_requested_size() {
        let seconds: Vec<Second> = (3..13)
            .map(|t| Second {
                t,
                delivered: 1000 + t * 10,
                deliver_p50_ms: 5.0 + t as f64,
                deliver_p99_ms: 20.0 + t as f64,
            })
            .collect();
        let path = std::env::temp_dir().join(format!("loadgen-plot-{}.png", std::process::id()));
        draw(&path, "fanout: test", &seconds).unwrap();
        let png = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        // IHDR: width and height, big-endian, at bytes 16..24.
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 900);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 560);
        assert!(png.len() > 5_000, "a drawn chart, not an empty image");
    }
}
