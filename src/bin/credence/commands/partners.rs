//! Partner agencies: `partners check`, `partners rebuild-views`,
//! `partners token`, and the `audit` log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use credence::base::store::Store;
use credence::base::warehouse::Warehouse;
use credence::config::partners;
use credence::run::load_policy;
use credence::serve::tokens::{new_token, token_hash};
use credence::stages::publish::entries::PublicationId;
use credence::stages::publish::rebuild;
use credence::tools::audit_archive;

use crate::args::{AuditCommand, PartnersCommand, TokenCommand};
use crate::failure::{CommandResult, Failure};

pub fn partners(command: PartnersCommand) -> CommandResult {
    match command {
        PartnersCommand::Check { partners: file, policy } => check(file.as_deref(), policy.as_deref()),
        PartnersCommand::RebuildViews { list, id, partners: file, policy, warehouse, signing_key } => {
            let known = known_partners(file.as_deref(), policy.as_deref())?;
            let id = match id.as_deref().map(str::parse) {
                Some(Ok(id)) => Some(id),
                Some(Err(_)) => {
                    return Err(Failure::usage("--id is a publication id, such as 2026-11-27 or 2026-11-27.2"))
                }
                None => None,
            };
            rebuild_views(&warehouse, &list, id, &known, signing_key)
        }
        PartnersCommand::Token { command, warehouse } => token(command, &warehouse),
    }
}

/// The partners of `file` (the embedded example without one), checked
/// against the lists of `policy`.
fn known_partners(file: Option<&Path>, policy: Option<&Path>) -> Result<Vec<partners::Partner>, Failure> {
    let policy = load_policy(policy)?;
    let lists: Vec<&str> = policy.lists.iter().map(|l| l.id.as_str()).collect();
    Ok(partners::load_or_default(file, &lists)?)
}

/// `partners check`: each partner on a line, or every problem of the file (exit 1).
fn check(file: Option<&Path>, policy: Option<&Path>) -> CommandResult {
    let policy = load_policy(policy)?;
    let lists: Vec<&str> = policy.lists.iter().map(|l| l.id.as_str()).collect();
    let known = match partners::load_or_default(file, &lists) {
        Ok(known) => known,
        Err(e) => {
            for p in &e.problems {
                println!("{p}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    for p in known {
        println!(
            "{}: {} — lists {}; columns {}; formats {}; regions {}",
            p.id,
            p.name,
            p.lists.join(", "),
            p.columns.join(", "),
            p.formats.iter().map(|f| f.extension()).collect::<Vec<_>>().join(", "),
            if p.regions.is_empty() { "all".to_string() } else { p.regions.join(", ") }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `partners rebuild-views`: the partner views of publication `id` of
/// `list` (the newest without one) made again for the `known` partners,
/// under the run lock.
fn rebuild_views(
    warehouse: &Path,
    list: &str,
    id: Option<PublicationId>,
    known: &[partners::Partner],
    signing_key: Option<PathBuf>,
) -> CommandResult {
    let wh = Warehouse::existing(warehouse)?;
    let signer = credence::base::sign::Signer::from_config(signing_key)?;
    let _lock = credence::base::lock::RunLock::acquire(&wh, "credence partners rebuild-views")?;
    let key = signer.as_ref().and_then(|s| s.public_key());
    let done = rebuild::rebuild_views(&wh, list, id, known, signer.as_ref(), key)?;
    if done.is_empty() {
        println!("every view of {list} already matches the entitlements");
    }
    for d in done {
        match d {
            rebuild::ViewChange::Rebuilt { partner } => println!("rebuilt the view of {partner}"),
            rebuild::ViewChange::Removed { partner } => {
                println!("removed the view of {partner}: no longer entitled to {list}")
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `partners token issue|revoke|list`: a token is shown once, and only its
/// SHA-256 is stored.
fn token(command: TokenCommand, warehouse: &Path) -> CommandResult {
    let store = Store::open(&Warehouse::existing(warehouse)?.database())?;
    match command {
        TokenCommand::Issue { partner, partners: file, policy } => {
            let known = known_partners(file.as_deref(), policy.as_deref())?;
            if !known.iter().any(|p| p.id == partner) {
                eprintln!(
                    "refused: '{partner}' is not a partner (partners: {})",
                    known.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
                );
                return Ok(ExitCode::from(1));
            }
            let token = new_token();
            let id = store.add_token(&partner, &token_hash(&token))?;
            eprintln!("token #{id} for {partner}; it is shown once and only its SHA-256 is stored:");
            println!("{token}");
        }
        TokenCommand::Revoke { token_id } => {
            if !store.revoke_token(token_id)? {
                eprintln!("refused: no live token #{token_id}");
                return Ok(ExitCode::from(1));
            }
            println!("token #{token_id} revoked");
        }
        TokenCommand::List => {
            for t in store.tokens()? {
                println!(
                    "#{}  {:<24} issued {}  {}",
                    t.id,
                    t.partner,
                    t.issued_at,
                    t.revoked_at.map(|r| format!("revoked {r}")).unwrap_or_else(|| "live".into())
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn audit(warehouse: &Path, limit: usize) -> CommandResult {
    let store = Store::open(&Warehouse::existing(warehouse)?.database())?;
    for a in store.audit_log(limit)? {
        println!(
            "{:>6} {} {:<22} {} {} {} {}B{}",
            a.id,
            a.at,
            a.actor.as_deref().unwrap_or("-"),
            a.method,
            a.path,
            a.status,
            a.bytes,
            a.detail.map(|d| format!(" {d}")).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn archive(command: AuditCommand) -> CommandResult {
    let AuditCommand::Archive { before, operator, signing_key, warehouse } = command;
    if operator.trim().is_empty() {
        return Err(Failure::usage("--operator must name who archives"));
    }
    let wh = Warehouse::existing(&warehouse)?;
    let store = Store::open(&wh.database())?;
    let signer =
        credence::base::sign::Signer::load(&signing_key, std::env::var(credence::base::sign::PASSWORD_ENV).ok())?;
    match audit_archive::archive(&wh, &store, &before, &signer, operator.trim())? {
        None => println!("no audit row before {before}"),
        Some((a, manifest)) => println!(
            "archived {} audit rows ({} .. {}, {} to {}) to {} and removed them from the database",
            a.rows,
            a.first_audit_id,
            a.last_audit_id,
            a.first_at,
            a.last_at,
            manifest.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
