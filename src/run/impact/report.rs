//! The impact report: its figures ([`ImpactReport`], `report.json`), the
//! changed entities (`changed.parquet`, `changed.csv`) and one
//! self-contained page (`report.html`: inline CSS and SVG, no external
//! asset), written into a staged folder renamed into place whole.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::{Facts, ImpactOptions, Names, Outcome};
use crate::base::ids::AsOf;
use crate::base::marts::listings::{Basis, ReviewStatus};
use crate::base::warehouse::Warehouse;
use crate::run::RunError;

/// A policy as the report names it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PolicyName {
    pub id: String,
    pub version: String,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Transition {
    /// The grade under the baseline (`-` when not scored).
    pub from: String,
    pub to: String,
    pub count: u64,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ListImpact {
    pub list: String,
    pub members_before: u64,
    pub members_after: u64,
    pub added: u64,
    pub added_direct: u64,
    /// Joint additions by the rule that brought them.
    pub added_joint_by_rule: BTreeMap<String, u64>,
    pub removed: u64,
    pub removed_direct: u64,
    pub removed_joint: u64,
    /// Additions that would wait for an officer (not published by the run).
    pub additions_needing_review: u64,
    pub restricted_persons_before: u64,
    pub restricted_persons_after: u64,
    pub flagged_entities_before: u64,
    pub flagged_entities_after: u64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RuleImpact {
    pub rule: String,
    /// `added`, `removed`, `changed` or `same`.
    pub change: String,
    pub entities_before: u64,
    pub entities_after: u64,
    pub points_before: f64,
    pub points_after: f64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupImpact {
    pub key: String,
    pub entities: u64,
    pub grade_changed: u64,
    /// Entities that would join a list they are not on, or leave one.
    pub joining: u64,
    pub leaving: u64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mover {
    pub entity_id: String,
    pub name: String,
    pub score_before: Option<f64>,
    pub score_after: Option<f64>,
    pub grade_before: String,
    pub grade_after: String,
    pub reasons_before: Vec<String>,
    pub reasons_after: Vec<String>,
}

/// One list's members on one night under both policies.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NightSize {
    pub as_of: String,
    pub list: String,
    pub members_before: u64,
    pub members_after: u64,
}

/// The members of each list on `as_of` under both policies.
pub fn list_sizes(as_of: AsOf, before: &Outcome, after: &Outcome) -> Vec<NightSize> {
    let count = |o: &Outcome, l: &str| o.lists.get(l).map_or(0, |m| m.len() as u64);
    let lists: BTreeSet<&String> = before.lists.keys().chain(after.lists.keys()).collect();
    lists
        .into_iter()
        .filter(|l| count(before, l) + count(after, l) > 0)
        .map(|l| NightSize {
            as_of: as_of.to_string(),
            list: l.clone(),
            members_before: count(before, l),
            members_after: count(after, l),
        })
        .collect()
}

/// The figures of an impact report (`report.json`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImpactReport {
    pub id: String,
    pub as_of: String,
    pub baseline: PolicyName,
    pub policy: PolicyName,
    pub entities: u64,
    /// Entities whose score, grade, reasons or list membership differ.
    pub changed: u64,
    pub grade_changed: u64,
    pub transitions: Vec<Transition>,
    /// Score histogram: lower bounds of ten equal bins, counts before and after.
    pub score_bins: Vec<f64>,
    pub scores_before: Vec<u64>,
    pub scores_after: Vec<u64>,
    pub lists: Vec<ListImpact>,
    pub rules: Vec<RuleImpact>,
    pub regions_2: Vec<GroupImpact>,
    pub regions_4: Vec<GroupImpact>,
    pub entity_types: Vec<GroupImpact>,
    pub movers: Vec<Mover>,
    /// Members of each list over the nights followed, under both policies.
    pub nights: Vec<NightSize>,
    pub summary_zh: String,
    pub summary_en: String,
}

/// A report id: the as-of date and the time it was made.
pub fn new_id(as_of: AsOf) -> String {
    format!("{as_of}_{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%3f"))
}

/// Whether `s` is a report id (a safe folder name): `YYYY-MM-DD_YYYYMMDDTHHMMSSmmm`.
pub fn is_id(s: &str) -> bool {
    let Some((date, made)) = s.split_once('_') else { return false };
    date.parse::<AsOf>().is_ok()
        && made.len() == 18
        && made.bytes().enumerate().all(|(i, b)| if i == 8 { b == b'T' } else { b.is_ascii_digit() })
}

/// The report's figures.
#[allow(clippy::too_many_arguments)]
pub fn build(
    id: &str,
    opts: &ImpactOptions,
    names: &Names,
    ids: &dyn Fn(usize) -> String,
    facts: &Facts,
    b: &Outcome,
    a: &Outcome,
    changed: &[u32],
) -> ImpactReport {
    let name = |p: &crate::config::policy::Policy| PolicyName {
        id: p.id.clone(),
        version: p.version.clone(),
        sha256: p.sha256.clone(),
    };
    let n = b.len();
    let grade_changed = (0..n).filter(|i| b.grade(*i) != a.grade(*i)).count() as u64;
    let top = opts.baseline.base.max(opts.policy.base).max(1.0);
    let score_bins: Vec<f64> = (0..10).map(|i| top * i as f64 / 10.0).collect();
    let histogram = |o: &Outcome| {
        let mut h = vec![0u64; 10];
        for s in (0..n).filter_map(|i| o.score(i)) {
            h[((s / top * 10.0).floor().max(0.0) as usize).min(9)] += 1;
        }
        h
    };
    // Entities that would join a list they are not on, or leave one.
    let moving = |from: &Outcome, to: &Outcome| -> std::collections::HashSet<u32> {
        to.lists
            .iter()
            .flat_map(|(l, m)| m.keys().filter(move |e| from.lists.get(l).is_none_or(|f| !f.contains_key(e))))
            .copied()
            .collect()
    };
    let (joining, leaving) = (moving(b, a), moving(a, b));
    let prefix = |s: &str, chars: usize| -> usize { s.char_indices().nth(chars).map_or(s.len(), |(at, _)| at) };
    let mut r = ImpactReport {
        id: id.to_string(),
        as_of: opts.as_of.to_string(),
        baseline: name(&opts.baseline),
        policy: name(&opts.policy),
        entities: n as u64,
        changed: changed.len() as u64,
        grade_changed,
        transitions: transitions(names, b, a),
        score_bins,
        scores_before: histogram(b),
        scores_after: histogram(a),
        lists: list_impacts(opts, b, a),
        rules: rule_impacts(opts, names, b, a),
        regions_2: grouped(n, |i| &facts.region(i)[..prefix(facts.region(i), 2)], b, a, &joining, &leaving),
        regions_4: grouped(n, |i| &facts.region(i)[..prefix(facts.region(i), 4)], b, a, &joining, &leaving),
        entity_types: grouped(n, |i| facts.entity_type(i), b, a, &joining, &leaving),
        movers: movers(ids, facts, names, b, a, changed),
        nights: Vec::new(),
        summary_zh: String::new(),
        summary_en: String::new(),
    };
    (r.summary_zh, r.summary_en) = summaries(&r);
    r
}

/// How many entities went from each grade (or out of scope) to each, by
/// the grades' names.
fn transitions(names: &Names, b: &Outcome, a: &Outcome) -> Vec<Transition> {
    let mut by_index: BTreeMap<(Option<u16>, Option<u16>), u64> = BTreeMap::new();
    for i in 0..b.len() {
        *by_index.entry((b.grade(i), a.grade(i))).or_default() += 1;
    }
    let by_name: BTreeMap<(String, String), u64> = by_index
        .into_iter()
        .map(|((x, y), c)| ((names.grade(x).to_string(), names.grade(y).to_string()), c))
        .fold(BTreeMap::new(), |mut m, (k, c)| {
            *m.entry(k).or_default() += c;
            m
        });
    by_name.into_iter().map(|((from, to), count)| Transition { from, to, count }).collect()
}

/// Each list of either policy: its members before and after, those added
/// (directly, or jointly by rule; those needing review) and removed, and
/// the persons restricted and entities flagged.
fn list_impacts(opts: &ImpactOptions, b: &Outcome, a: &Outcome) -> Vec<ListImpact> {
    let mut list_ids: BTreeSet<String> = opts.baseline.lists.iter().map(|l| l.id.clone()).collect();
    list_ids.extend(opts.policy.lists.iter().map(|l| l.id.clone()));
    let empty = std::collections::HashMap::new();
    list_ids
        .iter()
        .map(|l| {
            let mut li = ListImpact { list: l.clone(), ..ListImpact::default() };
            let (was, is) = (b.lists.get(l).unwrap_or(&empty), a.lists.get(l).unwrap_or(&empty));
            li.members_before = was.len() as u64;
            li.members_after = is.len() as u64;
            for (e, (basis, rules, status)) in is {
                if was.contains_key(e) {
                    continue;
                }
                li.added += 1;
                match basis {
                    Basis::Direct => li.added_direct += 1,
                    Basis::Joint => {
                        for r in rules {
                            *li.added_joint_by_rule.entry(r.clone()).or_default() += 1;
                        }
                    }
                }
                if *status != ReviewStatus::Published {
                    li.additions_needing_review += 1;
                }
            }
            for (e, (basis, _, _)) in was {
                if is.contains_key(e) {
                    continue;
                }
                li.removed += 1;
                match basis {
                    Basis::Direct => li.removed_direct += 1,
                    Basis::Joint => li.removed_joint += 1,
                }
            }
            let (pb, fb) = b.related.get(l).copied().unwrap_or_default();
            let (pa, fa) = a.related.get(l).copied().unwrap_or_default();
            (li.restricted_persons_before, li.flagged_entities_before) = (pb, fb);
            (li.restricted_persons_after, li.flagged_entities_after) = (pa, fa);
            li
        })
        .collect()
}

/// Each rule of either policy: whether it was added, removed or changed,
/// and the entities it hit and points it took before and after.
fn rule_impacts(opts: &ImpactOptions, names: &Names, b: &Outcome, a: &Outcome) -> Vec<RuleImpact> {
    let rule_of = |p: &crate::config::policy::Policy| -> BTreeMap<String, String> {
        p.rules
            .iter()
            .map(|r| (r.id.clone(), format!("{:?}", (r.points, r.window_days, &r.predicate.text, &r.cap, &r.decay))))
            .chain(p.direct_grades.iter().map(|g| (g.id.clone(), format!("{:?}", (&g.grade, &g.predicate.text)))))
            .collect()
    };
    let (rb, ra) = (rule_of(&opts.baseline), rule_of(&opts.policy));
    let mut rule_ids: BTreeSet<String> = BTreeSet::new();
    rule_ids.extend(rb.keys().cloned());
    rule_ids.extend(ra.keys().cloned());
    let tally = |o: &Outcome, rule: &str| {
        let (n, points) = match names.rules.iter().position(|r| r == rule) {
            Some(i) => o.tally[i],
            None => (0, 0.0),
        };
        (n, (points * 100.0).round() / 100.0)
    };
    rule_ids
        .into_iter()
        .map(|r| {
            let change = match (rb.get(&r), ra.get(&r)) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                (Some(x), Some(y)) if x != y => "changed",
                _ => "same",
            };
            let ((eb, pb), (ea, pa)) = (tally(b, &r), tally(a, &r));
            RuleImpact {
                rule: r,
                change: change.into(),
                entities_before: eb,
                entities_after: ea,
                points_before: pb,
                points_after: pa,
            }
        })
        .collect()
}

/// The 50 `changed` entities whose score moved most (then by id), their
/// reasons left for the caller to read with their records.
fn movers(
    ids: &dyn Fn(usize) -> String,
    facts: &Facts,
    names: &Names,
    b: &Outcome,
    a: &Outcome,
    changed: &[u32],
) -> Vec<Mover> {
    let mut movers: Vec<usize> = changed.iter().map(|i| *i as usize).collect();
    let delta = |i: usize| (a.score(i).unwrap_or(0.0) - b.score(i).unwrap_or(0.0)).abs();
    movers.sort_by(|x, y| delta(*y).total_cmp(&delta(*x)).then(ids(*x).cmp(&ids(*y))));
    movers
        .into_iter()
        .take(50)
        .map(|i| Mover {
            entity_id: ids(i),
            name: facts.name(i).to_string(),
            score_before: b.score(i),
            score_after: a.score(i),
            grade_before: names.grade(b.grade(i)).to_string(),
            grade_after: names.grade(a.grade(i)).to_string(),
            // Read again, with their records, by the caller.
            reasons_before: Vec::new(),
            reasons_after: Vec::new(),
        })
        .collect()
}

/// Entities, grade changes, and entities joining or leaving a list, by
/// the group `key` puts each entity in.
fn grouped<'f>(
    n: usize,
    key: impl Fn(usize) -> &'f str,
    b: &Outcome,
    a: &Outcome,
    joining: &std::collections::HashSet<u32>,
    leaving: &std::collections::HashSet<u32>,
) -> Vec<GroupImpact> {
    let mut g: BTreeMap<&str, GroupImpact> = BTreeMap::new();
    for i in 0..n {
        let k = key(i);
        let e = g.entry(k).or_insert_with(|| GroupImpact {
            key: k.to_string(),
            entities: 0,
            grade_changed: 0,
            joining: 0,
            leaving: 0,
        });
        e.entities += 1;
        e.grade_changed += (b.grade(i) != a.grade(i)) as u64;
        e.joining += joining.contains(&(i as u32)) as u64;
        e.leaving += leaving.contains(&(i as u32)) as u64;
    }
    g.into_values().collect()
}

/// The plain-language summary at the top, in Chinese and English.
fn summaries(r: &ImpactReport) -> (String, String) {
    let mut zh = format!("{} 个主体的信用等级将发生变化（共 {} 个主体有变化）", r.grade_changed, r.changed);
    let mut en = format!("{} entities change grade ({} change in any way)", r.grade_changed, r.changed);
    for l in &r.lists {
        let joint: Vec<String> = l.added_joint_by_rule.iter().map(|(k, v)| format!("{v} through {k}")).collect();
        let joint_zh: Vec<String> = l.added_joint_by_rule.iter().map(|(k, v)| format!("经 {k} {v} 个")).collect();
        let _ = write!(
            en,
            "; {} would join {} ({} direct{}{}), {} would leave it; {} additions would wait for review",
            l.added,
            l.list,
            l.added_direct,
            if joint.is_empty() { "" } else { ", " },
            joint.join(", "),
            l.removed,
            l.additions_needing_review
        );
        let _ = write!(
            zh,
            "；{} 个主体将列入{}（直接 {} 个{}{}），{} 个将移出；{} 个新增须经审核",
            l.added,
            l.list,
            l.added_direct,
            if joint_zh.is_empty() { "" } else { "，" },
            joint_zh.join("，"),
            l.removed,
            l.additions_needing_review
        );
    }
    (zh + "。", en + ".")
}

/// The changed entities with their before and after columns.
fn changed_batch(
    names: &Names,
    ids: &dyn Fn(usize) -> String,
    facts: &Facts,
    before: &Outcome,
    after: &Outcome,
    changed: &[u32],
) -> RecordBatch {
    let rules = |o: &Outcome, i: usize| o.rules(i).iter().map(|r| names.rule(*r)).collect::<Vec<_>>().join(";");
    let rows: Vec<usize> = changed.iter().map(|i| *i as usize).collect();
    let text = |f: &dyn Fn(usize) -> String| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(|i| f(*i)).collect::<Vec<_>>()))
    };
    let num = |f: &dyn Fn(usize) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from(rows.iter().map(|i| f(*i)).collect::<Vec<_>>()))
    };
    let lists = |o: &Outcome, i: usize| {
        o.lists_of(i).map(|(l, (b, _, st))| format!("{l}:{}:{}", b.as_str(), st.as_str())).collect::<Vec<_>>().join(";")
    };
    let fields = [
        ("entity_id", DataType::Utf8, false),
        ("name", DataType::Utf8, false),
        ("region", DataType::Utf8, false),
        ("score_before", DataType::Float64, true),
        ("score_after", DataType::Float64, true),
        ("grade_before", DataType::Utf8, false),
        ("grade_after", DataType::Utf8, false),
        ("rules_before", DataType::Utf8, false),
        ("rules_after", DataType::Utf8, false),
        ("lists_before", DataType::Utf8, false),
        ("lists_after", DataType::Utf8, false),
    ];
    let schema =
        Arc::new(Schema::new(fields.iter().map(|(n, t, null)| Field::new(*n, t.clone(), *null)).collect::<Vec<_>>()));
    let columns = vec![
        text(&|i| ids(i)),
        text(&|i| facts.name(i).to_string()),
        text(&|i| facts.region(i).to_string()),
        num(&|i| before.score(i)),
        num(&|i| after.score(i)),
        text(&|i| names.grade(before.grade(i)).to_string()),
        text(&|i| names.grade(after.grade(i)).to_string()),
        text(&|i| rules(before, i)),
        text(&|i| rules(after, i)),
        text(&|i| lists(before, i)),
        text(&|i| lists(after, i)),
    ];
    RecordBatch::try_new(schema, columns).expect("the changed columns fit their schema")
}

/// Writes the report's four files into `dir` (staged, renamed in whole).
#[allow(clippy::too_many_arguments)]
pub fn write(
    wh: &Warehouse,
    dir: &Path,
    report: &ImpactReport,
    names: &Names,
    ids: &dyn Fn(usize) -> String,
    facts: &Facts,
    before: &Outcome,
    after: &Outcome,
    changed: &[u32],
) -> Result<(), RunError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |source| RunError::Io { what, source }
    };
    let staged = wh.stage(dir.to_path_buf()).map_err(io("staging the impact report"))?;
    let p = staged.path();
    let json = serde_json::to_vec_pretty(report).expect("a report serialises");
    std::fs::write(p.join("report.json"), json).map_err(io("writing report.json"))?;
    let batch = changed_batch(names, ids, facts, before, after, changed);
    crate::base::parquet_io::write_parquet(&p.join("changed.parquet"), batch.schema(), std::slice::from_ref(&batch))
        .map_err(|source| RunError::Parquet { what: "writing changed.parquet".into(), source })?;
    crate::stages::publish::files::write_csv(&p.join("changed.csv"), &batch)
        .map_err(|e| RunError::Io { what: "writing changed.csv".into(), source: e.into() })?;
    std::fs::write(p.join("report.html"), html(report)).map_err(io("writing report.html"))?;
    staged.commit().map_err(io("publishing the impact report"))?;
    Ok(())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Bars of the score distribution before and after, as inline SVG.
fn histogram_svg(r: &ImpactReport) -> String {
    let max = r.scores_before.iter().chain(&r.scores_after).copied().max().unwrap_or(1).max(1) as f64;
    let (w, h) = (600.0, 200.0);
    let bar = w / 20.0;
    let mut s = format!(
        "<svg viewBox=\"0 0 {w} {}\" width=\"100%\" role=\"img\" aria-labelledby=\"hist-title\"><title id=\"hist-title\">Score distribution before (grey) and after (blue)</title>",
        h + 20.0
    );
    for i in 0..10 {
        let x = i as f64 * 2.0 * bar;
        for (k, (v, colour)) in [(r.scores_before[i], "#9ca3af"), (r.scores_after[i], "#1d4ed8")].iter().enumerate() {
            let bh = *v as f64 / max * h;
            let _ = write!(s, "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{colour}\"><title>{v}</title></rect>", x + k as f64 * bar, h - bh, bar - 2.0);
        }
        let _ = write!(s, "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\">{:.0}</text>", x, h + 14.0, r.score_bins[i]);
    }
    s.push_str("</svg>");
    s
}

/// The self-contained page of the report.
pub fn html(r: &ImpactReport) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>政策影响评估 / Policy impact {}</title><style>\
body{{font-family:system-ui,\"Noto Sans CJK SC\",sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#111}}\
table{{border-collapse:collapse;margin:.5em 0}}th,td{{border:1px solid #999;padding:2px 6px;text-align:right}}th:first-child,td:first-child{{text-align:left}}\
.summary{{border-left:4px solid #1d4ed8;background:#eff6ff;padding:.5em 1em}}caption{{text-align:left;white-space:nowrap;padding:.25em 0}}svg{{max-width:640px}}.key{{display:inline-block;width:1em;height:1em;vertical-align:middle}}</style></head><body><main>",
        esc(&r.id)
    );
    let _ = write!(
        s,
        "<h1>政策影响评估 / Policy impact</h1><p>数据日期 / as of {} · 基准 / baseline <code>{} {}</code> ({}) → 新政策 / new <code>{} {}</code> ({})</p>",
        esc(&r.as_of),
        esc(&r.baseline.id),
        esc(&r.baseline.version),
        &r.baseline.sha256[..12.min(r.baseline.sha256.len())],
        esc(&r.policy.id),
        esc(&r.policy.version),
        &r.policy.sha256[..12.min(r.policy.sha256.len())]
    );
    let _ = write!(
        s,
        "<div class=\"summary\"><p lang=\"zh-CN\">{}</p><p lang=\"en\">{}</p></div>",
        esc(&r.summary_zh),
        esc(&r.summary_en)
    );
    transitions_table(&mut s, r);
    s.push_str("<h2>信用分分布 / Score distribution</h2>");
    s.push_str("<p><span class=\"key\" style=\"background:#9ca3af\"></span> 基准 / baseline &nbsp; <span class=\"key\" style=\"background:#1d4ed8\"></span> 新政策 / new policy</p>");
    s.push_str(&histogram_svg(r));
    lists_table(&mut s, r);
    rules_table(&mut s, r);
    groups_tables(&mut s, r);
    nights_table(&mut s, r);
    movers_table(&mut s, r);
    s.push_str("</main></body></html>\n");
    s
}

/// The grade transition matrix: baseline grades (rows) by new grades
/// (columns), entities and their share.
fn transitions_table(s: &mut String, r: &ImpactReport) {
    let mut from: Vec<&str> = r.transitions.iter().map(|t| t.from.as_str()).collect();
    let mut to: Vec<&str> = r.transitions.iter().map(|t| t.to.as_str()).collect();
    from.sort_unstable();
    from.dedup();
    to.sort_unstable();
    to.dedup();
    s.push_str("<h2>等级迁移 / Grade transitions</h2><table><caption>基准等级（行）× 新等级（列） / baseline grade (rows) × new grade (columns), entities and share</caption><thead><tr><th scope=\"col\">→</th>");
    for t in &to {
        let _ = write!(s, "<th scope=\"col\">{}</th>", esc(t));
    }
    s.push_str("</tr></thead><tbody>");
    for f in &from {
        let _ = write!(s, "<tr><th scope=\"row\">{}</th>", esc(f));
        for t in &to {
            let n = r.transitions.iter().find(|x| x.from == *f && x.to == *t).map(|x| x.count).unwrap_or(0);
            let share = n as f64 * 100.0 / r.entities.max(1) as f64;
            let _ = write!(s, "<td>{n}<br><small>{share:.1}%</small></td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
}

/// Each list's members before and after, what joins and leaves, and the
/// persons restricted and entities flagged.
fn lists_table(s: &mut String, r: &ImpactReport) {
    s.push_str("<h2>名单 / Lists</h2><table><thead><tr><th scope=\"col\">list</th><th scope=\"col\">members before</th><th scope=\"col\">after</th><th scope=\"col\">added (direct)</th><th scope=\"col\">added joint, by rule</th><th scope=\"col\">removed (direct / joint)</th><th scope=\"col\">need review</th><th scope=\"col\">restricted persons</th><th scope=\"col\">flagged entities</th></tr></thead><tbody>");
    for l in &r.lists {
        let joint: Vec<String> = l.added_joint_by_rule.iter().map(|(k, v)| format!("{} {v}", esc(k))).collect();
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{} ({} / {})</td><td>{}</td><td>{} → {}</td><td>{} → {}</td></tr>",
            esc(&l.list), l.members_before, l.members_after, l.added, l.added_direct, joint.join(", "), l.removed, l.removed_direct,
            l.removed_joint, l.additions_needing_review, l.restricted_persons_before, l.restricted_persons_after,
            l.flagged_entities_before, l.flagged_entities_after
        );
    }
    s.push_str("</tbody></table>");
}

/// Each rule's change, with the entities it applies to and the points it
/// deducts under both policies.
fn rules_table(s: &mut String, r: &ImpactReport) {
    s.push_str("<h2>规则 / Rules</h2><table><thead><tr><th scope=\"col\">rule</th><th scope=\"col\">change</th><th scope=\"col\">entities before</th><th scope=\"col\">after</th><th scope=\"col\">points before</th><th scope=\"col\">after</th></tr></thead><tbody>");
    for x in &r.rules {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td></tr>",
            esc(&x.rule),
            x.change,
            x.entities_before,
            x.entities_after,
            x.points_before,
            x.points_after
        );
    }
    s.push_str("</tbody></table>");
}

/// The changes by region (2 and 4 digits) and entity type, groups without
/// any left out.
fn groups_tables(s: &mut String, r: &ImpactReport) {
    for (title, groups) in [
        ("地区（2 位） / Regions (2 digits)", &r.regions_2),
        ("地区（4 位） / Regions (4 digits)", &r.regions_4),
        ("主体类型 / Entity types", &r.entity_types),
    ] {
        let _ = write!(s, "<h2>{title}</h2><table><thead><tr><th scope=\"col\">key</th><th scope=\"col\">entities</th><th scope=\"col\">grade changed</th><th scope=\"col\">joining a list</th><th scope=\"col\">leaving a list</th></tr></thead><tbody>");
        for g in groups.iter().filter(|g| g.grade_changed + g.joining + g.leaving > 0) {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&g.key),
                g.entities,
                g.grade_changed,
                g.joining,
                g.leaving
            );
        }
        s.push_str("</tbody></table>");
    }
}

/// The list sizes over the nights followed, when more than one.
fn nights_table(s: &mut String, r: &ImpactReport) {
    if r.nights.iter().map(|n| &n.as_of).collect::<BTreeSet<_>>().len() > 1 {
        s.push_str("<h2>名单规模变化 / List sizes over the nights</h2><table><thead><tr><th scope=\"col\">as of</th><th scope=\"col\">list</th><th scope=\"col\">members before</th><th scope=\"col\">after</th></tr></thead><tbody>");
        for n in &r.nights {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&n.as_of),
                esc(&n.list),
                n.members_before,
                n.members_after
            );
        }
        s.push_str("</tbody></table>");
    }
}

/// The entities whose scores move most, each linked to its page.
fn movers_table(s: &mut String, r: &ImpactReport) {
    s.push_str("<h2>变化最大的主体 / Biggest movers</h2><table><thead><tr><th scope=\"col\">entity</th><th scope=\"col\">score</th><th scope=\"col\">grade</th><th scope=\"col\">reasons before</th><th scope=\"col\">reasons after</th></tr></thead><tbody>");
    for m in &r.movers {
        let sc = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
        let _ = write!(
            s,
            "<tr><td><a href=\"/entities/{id}\" target=\"_top\">{id}</a><br>{}</td><td>{} → {}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.name),
            sc(m.score_before),
            sc(m.score_after),
            esc(&m.grade_before),
            esc(&m.grade_after),
            m.reasons_before.iter().map(|x| esc(x)).collect::<Vec<_>>().join("<br>"),
            m.reasons_after.iter().map(|x| esc(x)).collect::<Vec<_>>().join("<br>"),
            id = esc(&m.entity_id),
        );
    }
    s.push_str("</tbody></table>");
}

#[cfg(test)]
mod id_tests {
    #[test]
    fn report_ids_are_made_and_recognised_and_nothing_else_is() {
        let id = super::new_id("2026-11-27".parse().unwrap());
        assert!(super::is_id(&id), "{id}");
        for bad in
            ["", "..", "2026-11-27", "2026-11-27_../../x", "2026-11-27_20261203T19230177/", "x_20261203T192301776"]
        {
            assert!(!super::is_id(bad), "{bad}");
        }
    }
}

#[cfg(test)]
mod html_tests {
    /// The report page of an impact report (the 600-entity golden
    /// warehouse, the embedded policy against one with doubled grave
    /// points and longer complaint windows, two nights):
    /// `tests/golden/impact-600-seed11-2026-11-27.html` (`UPDATE_GOLDEN=1`
    /// rewrites it).
    #[test]
    fn the_report_page_is_the_golden_file() {
        let golden = crate::repo_root().join("tests/golden");
        let json = std::fs::read_to_string(golden.join("impact-600-seed11-2026-11-27.json")).unwrap();
        let report: super::ImpactReport = serde_json::from_str(&json).unwrap();
        let page = super::html(&report);
        let path = golden.join("impact-600-seed11-2026-11-27.html");
        if std::env::var("UPDATE_GOLDEN").is_ok() {
            std::fs::write(&path, &page).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap();
        let at = expected.bytes().zip(page.bytes()).position(|(e, p)| e != p).unwrap_or(expected.len().min(page.len()));
        let near = |s: &str| s.get(at.saturating_sub(40)..(at + 80).min(s.len())).unwrap_or_default().to_string();
        assert!(expected == page, "{} differs at byte {at}:\n- {}\n+ {}", path.display(), near(&expected), near(&page));
    }
}
