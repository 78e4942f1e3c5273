//! The regulator's keys and checking a publication: `keys generate`, `verify`.

use std::path::Path;
use std::process::ExitCode;

use credence::base::sign;
use credence::stages::publish::entries::PublicationId;
use credence::tools::verify;

use crate::args::KeysCommand;
use crate::failure::{CommandResult, Failure};

pub fn keys(command: KeysCommand) -> CommandResult {
    let KeysCommand::Generate { secret_key, public_key, unencrypted } = command;
    let password = if unencrypted {
        None
    } else {
        Some(std::env::var(sign::PASSWORD_ENV).map_err(|_| {
            Failure::input(format!(
                "set {} to the passphrase of the new key (or pass --unencrypted for a development key)",
                sign::PASSWORD_ENV
            ))
        })?)
    };
    sign::generate(&secret_key, &public_key, password)?;
    println!(
        "wrote the secret key {} (mode 0600) and the public key {}; give partners the public key",
        secret_key.display(),
        public_key.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn verify(dir: &Path, public_key: &Path, list: Option<&str>, id: Option<&str>) -> CommandResult {
    let id = match id {
        Some(text) => Some(text.parse::<PublicationId>().map_err(Failure::usage)?),
        None => None,
    };
    match verify::verify(dir, public_key, list, id) {
        Ok(v) => {
            println!(
                "OK: publication {} of {}{}: {} files match the signed manifest",
                v.manifest.publication_id,
                v.manifest.list_id,
                v.manifest.partner.as_ref().map(|p| format!(" (view of {p})")).unwrap_or_default(),
                v.files
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(failed) => {
            for p in &failed.problems {
                eprintln!("FAILED: {p}");
            }
            Ok(ExitCode::from(1))
        }
    }
}
