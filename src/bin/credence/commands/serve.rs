//! `serve`: the partner API and the officer pages, each on its own listener.

use std::process::ExitCode;
use std::sync::Arc;

use credence::base::store::Store;
use credence::base::warehouse::Warehouse;
use credence::config::partners;
use credence::run::load_policy;
use credence::serve::listener::RateLimits;
use credence::serve::{officer_ui, partner_api};

use crate::args::ServeArgs;
use crate::failure::{CommandResult, Context, Failure};
use crate::runtime::runtime;

pub fn serve(args: &ServeArgs) -> CommandResult {
    if args.listen.is_none() && args.ui_listen.is_none() {
        return Err(Failure::usage("give --listen (the partner API), --ui-listen (the officer pages), or both"));
    }
    let policy = load_policy(args.policy.as_deref())?;
    let lists: Vec<&str> = policy.lists.iter().map(|l| l.id.as_str()).collect();
    let partners = partners::load_or_default(args.partners.as_deref(), &lists)?;
    let wh = Warehouse::existing(&args.warehouse)?;
    let messages = match &args.ui_messages {
        Some(f) => officer_ui::Messages::builtin().with_translation(f)?,
        None => officer_ui::Messages::builtin(),
    };
    let languages = messages.languages().join(", ");
    let Some(messages) = messages.with_default(&args.ui_language) else {
        return Err(Failure::usage(format!("--ui-language {}: the pages speak {languages}", args.ui_language)));
    };
    let public_key = match &args.public_key {
        Some(p) => Some(credence::base::sign::load_public_key(p)?),
        None => {
            tracing::warn!("no --public-key: manifests are served after checking their hashes, not their signatures");
            None
        }
    };
    let limits = args.limits.limits();
    let api = Arc::new(partner_api::ApiState {
        warehouse: wh.clone(),
        partners,
        store: Store::open_for_requests(&wh.database())?,
        rates: Arc::new(RateLimits::new(&limits)),
        public_key,
    });
    let regulator = credence::config::regulator::load_or_default(args.regulator.as_deref())?;
    let notices = credence::officer::notice::Notices::load(args.templates.as_deref(), regulator)?;
    let time_zone: chrono_tz::Tz = args
        .ui_time_zone
        .parse()
        .map_err(|_| Failure::usage(format!("--ui-time-zone {}: not an IANA time zone", args.ui_time_zone)))?;
    let mut ui = officer_ui::UiState::new(
        wh.clone(),
        policy,
        Store::open_for_requests(&wh.database())?,
        messages,
        notices,
        args.ui_idle_minutes * 60,
        Arc::new(RateLimits::new(&limits)),
        args.ui_behind_tls,
    );
    ui.time_zone = time_zone;
    let ui = Arc::new(ui);
    runtime(2)?.block_on(async {
        let mut servers = Vec::new();
        if let Some(listen) = &args.listen {
            let listener = tokio::net::TcpListener::bind(listen).await.context(format!("listening on {listen}"))?;
            let addr = listener.local_addr()?;
            tracing::info!(%addr, "partner API listening");
            println!("partner API listening on http://{addr}/api/v1/ (health: /healthz)");
            servers.push(tokio::spawn(partner_api::serve(api, listener, limits.clone())));
        }
        if let Some(listen) = &args.ui_listen {
            let listener = tokio::net::TcpListener::bind(listen).await.context(format!("listening on {listen}"))?;
            let addr = listener.local_addr()?;
            tracing::info!(%addr, "officer pages listening");
            println!("officer pages on http://{addr}/");
            let warm = ui.clone();
            tokio::task::spawn_blocking(move || warm.warm());
            servers.push(tokio::spawn(officer_ui::serve(ui, listener, limits.clone())));
        }
        for s in servers {
            s.await.map_err(|e| Failure::input(format!("a server task ended: {e}")))??;
        }
        Ok::<(), Failure>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
