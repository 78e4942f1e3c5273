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

/// Colours of the stacked bars, by position of the part (colour-blind safe).
const PARTS: [&str; 6] = ["#1b7837", "#5aae61", "#f1a340", "#b2182b", "#542788", "#767676"];

/// The parts of one bar from `base` upwards over `height`: (name, figure, top, height).
fn stack(parts: &[(String, u64)], base: f64, height: f64) -> Vec<(&str, u64, f64, f64)> {
    let total = parts.iter().map(|p| p.1).sum::<u64>().max(1) as f64;
    let mut y = base;
    parts
        .iter()
        .map(|(n, v)| {
            let part_h = *v as f64 / total * height;
            y -= part_h;
            (n.as_str(), *v, y, part_h)
        })
        .collect()
}

/// A column of [`stacked_bars`]: its label and its parts with their counts.
pub type BarColumn = (String, Vec<(String, u64)>);

/// One stacked bar per column (label, parts), oldest first: the share of
/// each part, with a legend (parts in the order they first appear) and
/// each figure in a tooltip.
pub fn stacked_bars(columns: &[BarColumn], label: &str) -> Markup {
    let mut names: Vec<&str> = Vec::new();
    for n in columns.iter().flat_map(|(_, p)| p.iter().map(|(n, _)| n.as_str())) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let (w, h, top, bottom) = (520.0, 190.0, 24.0, 24.0);
    let bar = ((w - 20.0) / columns.len().max(1) as f64).min(40.0);
    let colour = |n: &str| PARTS[names.iter().position(|x| *x == n).unwrap_or(0).min(PARTS.len() - 1)];
    html! {
        svg width="100%" viewBox=(format!("0 0 {w} {h}")) class="chart" role="img" aria-label=(label) {
            title { (label) }
            @for (n, x) in names.iter().zip(legend_positions(&names)) {
                rect x=(x) y="4" width="10" height="10" fill=(colour(n)) {}
                text x=(x + 14.0) y="13" font-size="11" { (n) }
            }
            @for (i, (at, parts)) in columns.iter().enumerate() {
                @let x = 10.0 + i as f64 * bar;
                @for (n, v, y, part_h) in stack(parts, h - bottom, h - top - bottom) {
                    rect x=(x) y=(y) width=(bar - 4.0) height=(part_h) fill=(colour(n)) { title { (at) " " (n) ": " (v) } }
                }
                @if i == 0 || i + 1 == columns.len() { text x=(x) y=(h - 8.0) font-size="11" { (at) } }
            }
        }
    }
}

/// Where each legend entry starts: after the one before it, by its
/// label's width at font size 11 (a wide character counts twice).
fn legend_positions(names: &[&str]) -> Vec<f64> {
    let mut x = 10.0;
    names
        .iter()
        .map(|n| {
            let at = x;
            let units: usize = n.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
            x += 14.0 + units as f64 * 6.5 + 12.0;
            at
        })
        .collect()
}

/// Nodes shown per column before "+N more".
pub const MAX_NODES: usize = 6;

/// A node of the path graph: an entity with its name (when the registry
/// has it) and what it is on the path, in words.
pub struct Node {
    pub id: String,
    pub name: String,
    /// "listed directly", "branch of", "holds 60%", "pending", ...
    pub role: String,
}

/// Three columns, each step labelled: the directly listed roots (rounded),
/// the entities the listing came through (square, with their relation)
/// and this entity (bold, with its review status); every node links to its
/// page; the width follows the page. `more(n)` words the nodes not drawn.
pub fn path_graph(roots: &[Node], via: &[Node], entity: &Node, label: &str, more: &dyn Fn(usize) -> String) -> Markup {
    let r_shown = &roots[..roots.len().min(MAX_NODES)];
    let v_shown = &via[..via.len().min(MAX_NODES)];
    let r_more = (roots.len() > MAX_NODES).then(|| more(roots.len() - MAX_NODES));
    let v_more = (via.len() > MAX_NODES).then(|| more(via.len() - MAX_NODES));
    let rows = r_shown.len().max(v_shown.len()).max(1) + 1;
    let (w, node_w, node_h, gap) = (780.0, 230.0, 40.0, 52.0);
    let h = rows as f64 * gap + 20.0;
    let xs = [10.0, 275.0, 540.0];
    let y = |i: usize| 10.0 + i as f64 * gap;
    let mid = |i: usize| y(i) + node_h / 2.0;
    let entity_y = 10.0 + ((rows - 1) as f64 * gap) / 2.0;
    let short = |s: &str| {
        if s.chars().count() > 26 {
            format!("{}…", s.chars().take(25).collect::<String>())
        } else {
            s.to_string()
        }
    };
    let node = |n: &Node, x: f64, top: f64, rx: f64, fill: &str, stroke: &str, width: f64| {
        html! {
            a href=(format!("/entities/{}", n.id)) {
                rect x=(x) y=(top) rx=(rx) width=(node_w) height=(node_h) fill=(fill) stroke=(stroke) stroke-width=(width) {}
                text x=(x + 6.0) y=(top + 16.0) { (short(if n.name.is_empty() { &n.id } else { &n.name })) }
                text x=(x + 6.0) y=(top + 32.0) font-size="11" { (short(&n.role)) }
                title { (n.name) " " (n.id) " — " (n.role) }
            }
        }
    };
    html! {
        svg class="graph" width="100%" viewBox=(format!("0 0 {w} {h}")) preserveAspectRatio="xMinYMin meet" role="group" aria-label=(label) {
            title { (label) }
            @for (i, _) in r_shown.iter().enumerate() {
                @for (j, _) in v_shown.iter().enumerate() {
                    line x1=(xs[0] + node_w) y1=(mid(i)) x2=(xs[1]) y2=(mid(j)) stroke="#767676" stroke-dasharray="4 3" {}
                }
            }
            @for (j, v) in v_shown.iter().enumerate() {
                line x1=(xs[1] + node_w) y1=(mid(j)) x2=(xs[2]) y2=(entity_y + node_h / 2.0) stroke="#0b4f9c" stroke-width="2" {}
                text x=(xs[1] + node_w + 4.0) y=((mid(j) + entity_y + node_h / 2.0) / 2.0 - 4.0) font-size="11" { (short(&v.role)) }
            }
            @for (i, r) in r_shown.iter().enumerate() { (node(r, xs[0], y(i), 12.0, "#eef2f7", "#555", 1.0)) }
            @if let Some(m) = &r_more { text x=(xs[0] + 6.0) y=(y(r_shown.len()) + 16.0) { (m) } }
            @for (j, v) in v_shown.iter().enumerate() { (node(v, xs[1], y(j), 0.0, "#eef2f7", "#555", 1.0)) }
            @if let Some(m) = &v_more { text x=(xs[1] + 6.0) y=(y(v_shown.len()) + 16.0) { (m) } }
            (node(entity, xs[2], entity_y, 0.0, "#fff3d6", "#b36b00", 3.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(id: &str, name: &str, role: &str) -> Node {
        Node { id: id.into(), name: name.into(), role: role.into() }
    }

    #[test]
    fn the_path_graph_names_links_and_labels_every_step_and_counts_what_it_leaves_out() {
        let roots: Vec<Node> =
            (0..8).map(|i| n(&format!("R{i}"), &format!("Root {i} Ltd."), "listed directly")).collect();
        let via = [n("V1", "", "holds 60%")];
        let me = n("E", "Harbor <Lights>", "this entity: pending (JS_CONTROL)");
        let svg = path_graph(&roots, &via, &me, "path", &|k| format!("+{k} more")).into_string();
        assert!(svg.contains("width=\"100%\"") && svg.contains("viewBox"), "the width follows the page");
        assert!(svg.contains("<a href=\"/entities/R0\">") && svg.contains("<a href=\"/entities/E\">"));
        assert!(svg.contains("Root 0 Ltd.") && !svg.contains("Root 6 Ltd."), "{MAX_NODES} roots drawn");
        assert!(svg.contains("+2 more"));
        assert!(svg.contains(">V1<"), "an entity without a name shows its id");
        assert_eq!(svg.matches("holds 60%").count(), 3, "on the node, its title and the edge");
        assert!(svg.contains("Harbor &lt;Lights&gt;") && svg.contains("this entity: pending (JS_CONTROL)"));
        assert!(svg.contains("role=\"group\"") && !svg.contains("role=\"img\""), "an image may not hold links");
        assert!(svg.contains("rx=\"12\""), "roots are rounded, others square: status by shape as well as text");
    }
}

#[cfg(test)]
mod chart_tests {
    #[test]
    fn stacked_bars_show_each_part_with_its_figure_and_a_legend() {
        let cols = vec![
            ("2026-11-25".to_string(), vec![("A".to_string(), 90), ("D".to_string(), 10)]),
            ("2026-11-26".to_string(), vec![("A".to_string(), 80), ("D".to_string(), 20)]),
        ];
        let svg = super::stacked_bars(&cols, "grades").into_string();
        assert!(svg.contains("<title>2026-11-26 D: 20</title>") && svg.contains(">A</text>"));
        assert_eq!(svg.matches("<rect").count(), 2 + 4, "a legend key per grade and a part per grade and run");
    }

    #[test]
    fn legend_entries_follow_each_other_by_label_width() {
        let x = super::legend_positions(&["不足 3 天", "3–9 days", "10 days or more"]);
        assert_eq!(x[0], 10.0);
        assert!(x[1] - x[0] > 14.0 + 6.0 * 6.5, "the wide label takes its room: {x:?}");
        assert!(x[2] - x[1] > 14.0 + 8.0 * 6.5, "{x:?}");
    }
}
