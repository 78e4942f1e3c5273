//! `serve`: the partner API and the officer pages, each on its own listener.

use std::process::ExitCode;
use std::sync::Arc;

use credence::base::store::Store;
use credence::base::warehouse::Warehouse;
use credence::config::partners;
use credence::run::load_policy;
use credence::serve::{officer_ui, partner_api};

use super::runtime;
use crate::args::ServeArgs;
use crate::failure::{CommandResult, Context, Failure};

pub fn serve(args: &ServeArgs) -> CommandResult {
    if args.listen.is_none() && args.ui_listen.is_none() {
        return Err(Failure::usage("give --listen (the partner API), --ui-listen (the officer pages), or both"));
    }
    let policy = load_policy(args.policy.as_deref())?;
    let lists: Vec<&str> = policy.lists.iter().map(|l| l.id.as_str()).collect();
    let partners = partners::load_or_default(args.partners.as_deref(), &lists)?;
    let wh = Warehouse::new(&args.warehouse);
    let messages = match &args.ui_messages {
        Some(f) => officer_ui::Messages::load(f)?,
        None => officer_ui::Messages::english(),
    };
    let api = Arc::new(partner_api::ApiState { warehouse: wh.clone(), partners, store: Store::open(&wh.database())? });
    let ui = Arc::new(officer_ui::UiState {
        warehouse: wh.clone(),
        policy,
        store: Store::open(&wh.database())?,
        messages,
        idle_seconds: args.ui_idle_minutes * 60,
    });
    runtime(2)?.block_on(async {
        let mut servers = Vec::new();
        if let Some(listen) = &args.listen {
            let listener = tokio::net::TcpListener::bind(listen).await.context(format!("listening on {listen}"))?;
            let addr = listener.local_addr()?;
            tracing::info!(%addr, "partner API listening");
            println!("partner API listening on http://{addr}/api/v1/ (health: /healthz)");
            servers.push(tokio::spawn(partner_api::serve(api, listener)));
        }
        if let Some(listen) = &args.ui_listen {
            let listener = tokio::net::TcpListener::bind(listen).await.context(format!("listening on {listen}"))?;
            let addr = listener.local_addr()?;
            tracing::info!(%addr, "officer pages listening");
            println!("officer pages on http://{addr}/");
            servers.push(tokio::spawn(officer_ui::serve(ui, listener)));
        }
        for s in servers {
            s.await.map_err(|e| Failure::input(format!("a server task ended: {e}")))??;
        }
        Ok::<(), Failure>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
