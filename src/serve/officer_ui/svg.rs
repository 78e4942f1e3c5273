//! Server-rendered SVG for the entity page: the score over past runs, and
//! the path from the directly listed entities to a joint member.

use maud::{html, Markup};

/// A line chart of (label, score) points, oldest first, on 0..=max.
pub fn score_chart(points: &[(String, f64)], max: f64, label: &str) -> Markup {
    let (w, h, left, bottom, top) = (520.0, 170.0, 40.0, 30.0, 10.0);
    let n = points.len().max(1);
    let x = |i: usize| left + (w - left - 20.0) * if n == 1 { 0.5 } else { i as f64 / (n - 1) as f64 };
    let y = |v: f64| top + (h - top - bottom) * (1.0 - (v / max).clamp(0.0, 1.0));
    let line: String =
        points.iter().enumerate().map(|(i, (_, v))| format!("{:.1},{:.1}", x(i), y(*v))).collect::<Vec<_>>().join(" ");
    html! {
        svg width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(label) {
            title { (label) }
            line x1=(left) y1=(y(max)) x2=(left) y2=(y(0.0)) stroke="#555" {}
            line x1=(left) y1=(y(0.0)) x2=(w - 10.0) y2=(y(0.0)) stroke="#555" {}
            text x="4" y=(y(max) + 4.0) { (format!("{max:.0}")) }
            text x="4" y=(y(0.0)) { "0" }
            polyline points=(line) fill="none" stroke="#0b4f9c" stroke-width="2" {}
            @for (i, (d, v)) in points.iter().enumerate() {
                circle cx=(x(i)) cy=(y(*v)) r="4" fill="#0b4f9c" { title { (format!("{d}: {v:.2}")) } }
                @if i == 0 || i + 1 == points.len() {
                    text x=(x(i) - 28.0) y=(h - 8.0) { (d) }
                }
            }
        }
    }
}

/// Nodes shown per column before "+N more".
pub const MAX_NODES: usize = 6;

/// Three columns: roots → via → the entity, with edge labels on via.
pub fn path_graph(
    roots: &[String],
    via: &[(String, String)],
    entity: &str,
    label: &str,
    more: &dyn Fn(usize) -> String,
) -> Markup {
    let col = |items: &[String]| -> (Vec<String>, Option<String>) {
        let shown: Vec<String> = items.iter().take(MAX_NODES).cloned().collect();
        let extra = items.len().saturating_sub(MAX_NODES);
        (shown, (extra > 0).then(|| more(extra)))
    };
    let via_ids: Vec<String> = via.iter().map(|(id, rel)| format!("{id} ({rel})")).collect();
    let (r_shown, r_more) = col(roots);
    let (v_shown, v_more) = col(&via_ids);
    let rows = r_shown.len().max(v_shown.len()).max(1) + 1;
    let (w, node_w, node_h, gap) = (760.0, 220.0, 24.0, 34.0);
    let h = rows as f64 * gap + 20.0;
    let xs = [10.0, 270.0, 530.0];
    let y = |i: usize| 10.0 + i as f64 * gap;
    let mid = |i: usize| y(i) + node_h / 2.0;
    let entity_y = 10.0 + ((rows - 1) as f64 * gap) / 2.0;
    html! {
        svg width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(label) {
            title { (label) }
            @for (i, _) in r_shown.iter().enumerate() {
                @for (j, _) in v_shown.iter().enumerate() {
                    line x1=(xs[0] + node_w) y1=(mid(i)) x2=(xs[1]) y2=(mid(j)) stroke="#999" stroke-dasharray="4 3" {}
                }
            }
            @for (j, _) in v_shown.iter().enumerate() {
                line x1=(xs[1] + node_w) y1=(mid(j)) x2=(xs[2]) y2=(entity_y + node_h / 2.0) stroke="#0b4f9c" stroke-width="2" {}
            }
            @for (i, r) in r_shown.iter().enumerate() {
                rect x=(xs[0]) y=(y(i)) width=(node_w) height=(node_h) fill="#eef2f7" stroke="#555" {}
                text x=(xs[0] + 6.0) y=(y(i) + 16.0) { (r) }
            }
            @if let Some(m) = &r_more { text x=(xs[0] + 6.0) y=(y(r_shown.len()) + 16.0) { (m) } }
            @for (j, v) in v_shown.iter().enumerate() {
                rect x=(xs[1]) y=(y(j)) width=(node_w) height=(node_h) fill="#eef2f7" stroke="#555" {}
                text x=(xs[1] + 6.0) y=(y(j) + 16.0) { (v) }
            }
            @if let Some(m) = &v_more { text x=(xs[1] + 6.0) y=(y(v_shown.len()) + 16.0) { (m) } }
            rect x=(xs[2]) y=(entity_y) width=(node_w) height=(node_h) fill="#fff3d6" stroke="#b36b00" stroke-width="2" {}
            text x=(xs[2] + 6.0) y=(entity_y + 16.0) { (entity) }
        }
    }
}
