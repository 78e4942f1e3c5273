//! Joint sanctions (joint-sanctions.md): the graph of entities built from
//! the run's registry and holdings ([`graph`]), the rounds that extend each
//! list's candidates ([`rounds`]), and the legal representatives of the
//! final members ([`legal`]).

pub mod graph;
mod legal;
pub mod rounds;

use rayon::prelude::*;

use crate::base::entities::EntityIndex;
use crate::base::ids::PersonId;
use crate::base::marts::listings::{Basis, ViaEntry};
use crate::base::marts::related::RelatedBuilder;
use crate::base::tables::{LegalReps, Share};
use crate::config::policy::{JointRule, ListSpec, Policy, Relation};
use graph::EntityGraph;
use rounds::{ListRules, Member, ViaKind};

/// Builds the graph: each branch's registered parent, and the shares held
/// by registered entity holders (validation's [`Share`]s; holders
/// registered elsewhere can never be members, so they cannot extend a
/// listing).
pub fn build_graph(parents: Vec<u32>, shares: Vec<Share>) -> EntityGraph {
    EntityGraph::build(parents, shares)
}

/// The rounds' view of a list's joint-sanction rules.
pub fn list_rules(policy: &Policy, list: &str) -> ListRules {
    let mut rules = ListRules { max_rounds: policy.joint.max_rounds, ..ListRules::default() };
    for r in policy.joint.rules.iter().filter(|r| r.list == list) {
        match r.relation {
            Relation::Branch => rules.branch.push(r.id.clone()),
            Relation::Control { threshold_pct } => rules.control.push((r.id.clone(), threshold_pct)),
            Relation::LegalRep => {}
        }
    }
    rules
}

/// A list's members and related subjects.
pub struct ListOutcome<'p> {
    pub members: Vec<Member>,
    /// Sorted by subject id, then rule id: the `related` mart's order.
    pub related: Vec<Related<'p>>,
}

/// A restricted person or a flagged entity under one legal-representative
/// rule, by dense indexes: a list at 10M entities has about 1.5M of them,
/// turned into mart rows one at a time as they are written
/// ([`Related::row`]).
pub struct Related<'p> {
    pub subject: Subject,
    pub rule: &'p JointRule,
    /// The list members the subject's representative represents, sorted
    /// (shared by the rows of one representative).
    pub roots: std::sync::Arc<[u32]>,
}

/// Who a related row is about.
pub enum Subject {
    /// A restricted person (a legal representative), by pseudonymous id.
    Person(PersonId),
    /// A flagged entity.
    Entity(u32),
}

impl Related<'_> {
    /// Appends the row of the `related` mart.
    pub fn append_row(&self, entities: &EntityIndex, out: &mut RelatedBuilder) {
        let mut buf = [0u8; 18];
        let subject = self.subject_bytes(entities, &mut buf);
        let kind = if self.is_person() { "person" } else { "entity" };
        let roots: Vec<[u8; 18]> = self.roots.iter().map(|r| entities.id(*r).to_bytes()).collect();
        out.append(
            ascii(subject),
            kind,
            &self.rule.id,
            self.rule.measures.as_deref().unwrap_or_default(),
            roots.iter().map(|r| ascii(r)),
            &self.rule.list,
        );
    }

    pub fn is_person(&self) -> bool {
        matches!(self.subject, Subject::Person(_))
    }

    /// The subject id's bytes, for the mart's order.
    fn subject_bytes<'a>(&self, entities: &EntityIndex, buf: &'a mut [u8; 18]) -> &'a [u8] {
        match &self.subject {
            Subject::Person(p) => {
                buf[..17].copy_from_slice(&p.to_bytes());
                &buf[..17]
            }
            Subject::Entity(e) => {
                *buf = entities.id(*e).to_bytes();
                buf
            }
        }
    }
}

/// Computes list `list`: candidates are the entities in scope whose grade
/// (a band index, `grade[e]`) is one of the list's and that are not
/// exempt; the rounds extend them; legal-representative rules restrict and
/// flag.
#[allow(clippy::too_many_arguments)] // the run's tables, each read-only
pub fn list_outcome<'p>(
    graph: &EntityGraph,
    policy: &'p Policy,
    list: &ListSpec,
    grade: &[u8],
    in_scope: &(dyn Fn(u32) -> bool + Sync),
    exempt: &(dyn Fn(u32) -> bool + Sync),
    legal_reps: &LegalReps,
    entities: &EntityIndex,
) -> ListOutcome<'p> {
    let candidates: Vec<u32> = (0..graph.entities as u32)
        .into_par_iter()
        .filter(|e| in_scope(*e) && list.grades.contains(&(grade[*e as usize] as usize)) && !exempt(*e))
        .collect();
    let rules = list_rules(policy, &list.id);
    let mut phases = crate::base::telemetry::Phases::start("lists");
    let members = rounds::extend(graph, &candidates, &rules, &|e| in_scope(e) && !exempt(e));
    phases.done("rounds");
    let mut related = Vec::new();
    for rule in policy.joint.rules.iter().filter(|r| r.list == list.id && r.relation == Relation::LegalRep) {
        let (restricted, flagged) = legal::restrictions(&members, graph.entities, &|e| legal_reps.of(e), in_scope);
        for p in restricted {
            related.push(Related { subject: Subject::Person(p.person), rule, roots: p.roots });
        }
        for f in flagged {
            related.push(Related { subject: Subject::Entity(f.entity), rule, roots: f.roots });
        }
    }
    related.par_sort_by(|a, b| {
        let (mut x, mut y) = ([0u8; 18], [0u8; 18]);
        a.subject_bytes(entities, &mut x).cmp(b.subject_bytes(entities, &mut y)).then(a.rule.id.cmp(&b.rule.id))
    });
    phases.done("legal representatives");
    ListOutcome { members, related }
}

/// A member's basis.
pub fn basis(m: &Member) -> Basis {
    if m.depth == 0 {
        Basis::Direct
    } else {
        Basis::Joint
    }
}

/// A member's `via` as published: entity ids and relation names.
pub fn via_entries(m: &Member, entities: &EntityIndex) -> Vec<ViaEntry> {
    m.via
        .iter()
        .map(|v| match v.kind {
            ViaKind::Branch => {
                ViaEntry { id: entities.id(v.entity).to_string(), relation: "branch".into(), share_pct: None }
            }
            ViaKind::Control { share_pct } => ViaEntry {
                id: entities.id(v.entity).to_string(),
                relation: "control".into(),
                share_pct: Some(share_pct),
            },
        })
        .collect()
}

/// Id bytes as text: both alphabets are ASCII.
fn ascii(id: &[u8]) -> &str {
    std::str::from_utf8(id).expect("ids are ASCII")
}
