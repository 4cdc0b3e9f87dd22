//! The report's chart kinds (lines over a numeric x, horizontal bars), drawn by `plotters` into
//! SVG text; the figures feed them data and never touch plotters themselves.
//!
//! Design choice: plotters' SVG backend writes `<text>` elements and lets the browser lay the
//! glyphs out, so no font is embedded or loaded; its text-size estimate only sizes the margins.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// Chart width and height in pixels (the page scales them down to fit).
pub const WIDTH: u32 = 900;
const FONT: &str = "sans-serif";
/// plotters writes `font-size` as this divided by 1.24: 16 is about 13 px.
const LABEL_SIZE: u32 = 16;

/// Text and axis colour: dark grey on white, readable when printed.
pub const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
const LIGHT_GRID: RGBColor = RGBColor(0xf3, 0xf3, 0xf3);

/// Ten distinguishable colours (Tableau 10), in order.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xba, 0xb0, 0xac),
];

pub fn palette(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Lines of at most this many points get a marker on each.
const MARKED_POINTS: usize = 40;

/// One line of a `LineChart`.
pub struct Line {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed, so a line that runs along another still shows.
    pub dashed: bool,
}

/// Lines over a numeric x axis; y starts at 0. The legend is HTML beside it (`legend`), so it
/// never hides a line.
pub struct LineChart<'a> {
    pub width: u32,
    pub height: u32,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub x_range: Range<f64>,
    /// At most this many x labels (plotters picks round values).
    pub x_labels: usize,
    pub x_fmt: &'a dyn Fn(&f64) -> String,
    pub lines: Vec<Line>,
    /// Fill the area under the (single) line.
    pub area: bool,
}

impl LineChart<'_> {
    /// The chart as an `<svg>` element; an error says what plotters could not draw.
    pub fn svg(&self, aria: &str) -> Result<String, String> {
        svg(self.width, self.height, aria, |root| self.draw(root))
    }

    fn draw(&self, root: &DrawingArea<SVGBackend<'_>, Shift>) -> Drawn {
        let y_max = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .filter(|y| y.is_finite())
            .fold(0.0f64, f64::max);
        let y_top = if y_max > 0.0 {
            (y_max * 1.12).min(f64::MAX)
        } else {
            1.0
        };
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(self.x_range.clone(), 0f64..y_top)?;
        chart
            .configure_mesh()
            .light_line_style(LIGHT_GRID)
            .bold_line_style(GRID)
            .axis_style(INK)
            .label_style((FONT, LABEL_SIZE).into_font().color(&INK))
            .axis_desc_style((FONT, LABEL_SIZE).into_font().color(&INK))
            .x_desc(self.x_desc)
            .y_desc(self.y_desc)
            .x_labels(self.x_labels)
            .y_labels(6)
            .x_label_formatter(self.x_fmt)
            .y_label_formatter(&|y| number(*y))
            .draw()?;
        for line in &self.lines {
            let color = line.color;
            if self.area {
                chart.draw_series(AreaSeries::new(
                    line.points.iter().copied(),
                    0.0,
                    color.mix(0.25),
                ))?;
            }
            if line.dashed {
                chart.draw_series(DashedLineSeries::new(
                    line.points.iter().copied(),
                    8,
                    5,
                    color.stroke_width(3),
                ))?;
            } else {
                chart.draw_series(LineSeries::new(
                    line.points.iter().copied(),
                    color.stroke_width(2),
                ))?;
            }
            // Few points: marked, so a line of one point still shows.
            if line.points.len() <= MARKED_POINTS {
                chart.draw_series(
                    line.points
                        .iter()
                        .map(|p| Circle::new(*p, 3, color.filled())),
                )?;
            }
        }
        Ok(())
    }
}

/// The lines' names in their colours, as HTML (nothing for one unnamed line).
pub fn legend(lines: &[Line]) -> String {
    if lines.iter().all(|l| l.label.is_empty()) {
        return String::new();
    }
    let mut out = String::from("<p class=\"legend\">");
    for l in lines {
        let RGBColor(r, g, b) = l.color;
        out.push_str(&format!(
            "<span><span class=\"key\" style=\"color:#{r:02x}{g:02x}{b:02x}\">{}</span> {}</span>",
            if l.dashed { "╍╍" } else { "━━" },
            super::escape(&l.label)
        ));
    }
    out.push_str("</p>");
    out
}

/// One bar of a `BarChart`.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub color: RGBColor,
    /// Written at the bar's end, e.g. `8` or `+12.5%`.
    pub text: String,
}

/// Horizontal bars, one per row, labelled on the left; values may be negative.
pub struct BarChart<'a> {
    pub x_desc: &'a str,
    pub bars: Vec<Bar>,
}

/// Bar labels longer than this are cut (the table beside the chart has them whole).
const BAR_LABEL_CHARS: usize = 44;

impl BarChart<'_> {
    pub fn svg(&self, aria: &str) -> Result<String, String> {
        let height = 70 + 30 * self.bars.len() as u32;
        svg(WIDTH, height, aria, |root| self.draw(root))
    }

    fn draw(&self, root: &DrawingArea<SVGBackend<'_>, Shift>) -> Drawn {
        let labels: Vec<String> = self.bars.iter().map(|b| cut(&b.label)).collect();
        let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        // About 7.5 px a character at 13 px, plus room.
        let label_area = (widest as f64 * 7.5) as u32 + 24;
        let lo = self.bars.iter().map(|b| b.value).fold(0.0f64, f64::min);
        let hi = self.bars.iter().map(|b| b.value).fold(0.0f64, f64::max);
        let span = (hi - lo).max(1e-9);
        // Room at both ends for the value written beyond the bar.
        let x_range = (lo - if lo < 0.0 { span * 0.18 } else { 0.0 })
            ..(hi
                + if hi > 0.0 || lo == 0.0 {
                    span * 0.18
                } else {
                    0.0
                })
            .max(1e-9);
        let n = self.bars.len() as f64;
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(label_area)
            .build_cartesian_2d(x_range, 0f64..n)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .light_line_style(LIGHT_GRID)
            .bold_line_style(GRID)
            .axis_style(INK)
            .label_style((FONT, LABEL_SIZE).into_font().color(&INK))
            .axis_desc_style((FONT, LABEL_SIZE).into_font().color(&INK))
            .x_desc(self.x_desc)
            .x_labels(8)
            .x_label_formatter(&|x| number(*x))
            .draw()?;
        let font = (FONT, LABEL_SIZE).into_font().color(&INK);
        for (i, bar) in self.bars.iter().enumerate() {
            // The first bar on top.
            let top = n - i as f64 - 0.18;
            let bottom = n - i as f64 - 0.82;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, bottom), (bar.value, top)],
                bar.color.filled(),
            )))?;
            let mid = (top + bottom) / 2.0;
            let (px, py) = chart.backend_coord(&(chart.x_range().start, mid));
            let left = font.pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(labels[i].clone(), (px - 8, py), left))?;
            let (ex, ey) = chart.backend_coord(&(bar.value, mid));
            let (dx, anchor) = if bar.value < 0.0 {
                (-6, HPos::Right)
            } else {
                (6, HPos::Left)
            };
            let style = font.pos(Pos::new(anchor, VPos::Center));
            root.draw(&Text::new(bar.text.clone(), (ex + dx, ey), style))?;
        }
        // The zero line, so negative and positive bars read apart.
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (0.0, n)],
            INK.stroke_width(1),
        )))?;
        Ok(())
    }
}

fn cut(label: &str) -> String {
    if label.chars().count() <= BAR_LABEL_CHARS {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(BAR_LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// Draws on a white SVG canvas; returns the `<svg>` element, labelled for screen readers and
/// scaled by the page (its fixed width and height become its viewBox's aspect ratio).
fn svg(
    width: u32,
    height: u32,
    aria: &str,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Drawn,
) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    // The page is HTML: inline SVG needs no namespace declaration (and then the file holds no
    // URL but the target's).
    let out = out.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
    Ok(out.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{}\" ", super::escape(aria)),
        1,
    ))
}

/// A number for an axis or a table: few digits, no trailing noise.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        trim(format!("{v:.1}"))
    } else if a >= 1.0 {
        trim(format!("{v:.2}"))
    } else {
        trim(format!("{v:.3}"))
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(1.5), "1.5");
        assert_eq!(number(250.4), "250");
        assert_eq!(number(0.1234), "0.123");
        assert_eq!(number(-3.0), "-3");
    }

    #[test]
    fn a_line_chart_is_an_svg_with_its_lines() {
        let chart = LineChart {
            width: WIDTH,
            height: 300,
            x_desc: "s",
            y_desc: "ms",
            x_range: 0.0..3.0,
            x_labels: 4,
            x_fmt: &|x| number(*x),
            lines: vec![Line {
                label: "p50".into(),
                color: palette(0),
                points: vec![(1.0, 2.0), (2.0, 3.0), (3.0, 2.5)],
                dashed: false,
            }],
            area: false,
        };
        let svg = chart.svg("test <chart>").unwrap();
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"test &lt;chart&gt;\" "));
        assert!(svg.contains("<polyline"), "{svg}");
        assert!(legend(&chart.lines).contains("━━</span> p50"));
        assert!(!svg.contains("http://"), "{svg}");
    }

    #[test]
    fn a_bar_chart_has_a_rect_and_a_label_per_bar() {
        let chart = BarChart {
            x_desc: "count",
            bars: vec![
                Bar {
                    label: "chat: event_missing".into(),
                    value: 8.0,
                    color: palette(2),
                    text: "8".into(),
                },
                Bar {
                    label: "x".repeat(80),
                    value: -2.0,
                    color: palette(3),
                    text: "-2".into(),
                },
            ],
        };
        let svg = chart.svg("errors").unwrap();
        assert!(svg.contains("chat: event_missing"), "{svg}");
        assert!(svg.contains(&format!("{}…\n", "x".repeat(43))), "{svg}");
        // The background and the two bars.
        assert!(svg.matches("<rect").count() >= 3, "{svg}");
    }
}
