//! Rebuilding the partner views of a publication after entitlements
//! changed (`credence partners rebuild-views`): the publication is checked
//! first; each entitled partner whose view differs from what it may see now
//! (regions, columns, formats) gets a view cut again from the publication's
//! entries, its changes computed against its own view in the previous
//! publication, signed, and swapped in atomically; a partner no longer
//! entitled loses its view. The publication's own files and manifest are
//! not touched, so its signature still holds.

use std::collections::HashMap;

use minisign::PublicKey;

use super::entries::{Action, PublicationId, RemovalReason};
use super::views::{self, Cut};
use super::{files, folder, io, latest, read_checked, write_view, Head, PublishError, View, PREVIOUS};
use crate::base::sign::Signer;
use crate::base::warehouse::Warehouse;
use crate::config::partners::Partner;

/// How messages name the publication whose views are rebuilt.
const THIS: &str = "the publication";

/// What a rebuild did to each partner's view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViewChange {
    Rebuilt { partner: String },
    Removed { partner: String },
}

/// Rebuilds the views of publication `id` (default: `LATEST`) of `list`
/// for `partners`; `key` checks the publication (and its previous one)
/// before anything is built on them; `signer` signs the new views.
pub fn rebuild_views(
    wh: &Warehouse,
    list: &str,
    id: Option<PublicationId>,
    partners: &[Partner],
    signer: Option<&Signer>,
    key: Option<&PublicKey>,
) -> Result<Vec<ViewChange>, PublishError> {
    let Some(id) = id.or(latest(wh, list)?) else { return Ok(vec![]) };
    let this = read_checked(wh, list, id, key, THIS)?;
    if this.manifest.signed && signer.is_none() {
        return Err(PublishError::CannotVerify { what: THIS, list: list.to_string(), id });
    }
    let previous = match this.manifest.previous_publication_id.as_deref().and_then(|p| p.parse().ok()) {
        Some(p) => Some(read_checked(wh, list, p, key, PREVIOUS)?),
        None => None,
    };
    let dir = folder(wh, list, id);
    let reasons: HashMap<String, RemovalReason> = files::read_changes(&dir.join("changes.parquet"))?
        .into_iter()
        .filter(|c| c.action == Action::Removed)
        .filter_map(|c| c.removal_reason.map(|r| (c.entry.entity_id, r)))
        .collect();
    let head = Head::of_manifest(&this.manifest, id, signer);
    let mut done = Vec::new();
    for p in partners.iter().filter(|p| p.may_read(list)) {
        let cut = Cut { regions: p.regions.clone(), columns: p.columns.clone() };
        let current = dir.join("partners").join(&p.id);
        if current.join("manifest.json").exists() {
            let m = files::Manifest::read(&current)?;
            let formats: Vec<&str> = m
                .files
                .iter()
                .filter(|f| f.name.starts_with("entries."))
                .map(|f| f.name.trim_start_matches("entries."))
                .collect();
            let wanted: Vec<&str> = p.formats.iter().map(|f| f.extension()).collect();
            let same_formats = formats.len() == wanted.len() && wanted.iter().all(|f| formats.contains(f));
            if m.regions == cut.regions && m.columns.as_ref() == Some(&cut.columns) && same_formats {
                continue;
            }
        }
        let before = match &previous {
            Some(prev) => prev.view(wh, list, &p.id)?,
            None => None,
        };
        let entries = cut.entries(&this.entries);
        let changes = views::view_changes(&cut, &this.entries, before.as_ref().map(|(c, e)| (c, e.clone())), &reasons);
        let staged = wh.stage(current.clone()).map_err(io(format!("staging the view of {}", p.id)))?;
        let view = View {
            entries: &entries,
            changes: &changes,
            columns: &cut.columns,
            formats: &p.formats,
            regions: &cut.regions,
        };
        write_view(staged.path(), &head, Some(&p.id), &view)?;
        staged.commit().map_err(io(format!("replacing the view of {}", p.id)))?;
        done.push(ViewChange::Rebuilt { partner: p.id.clone() });
    }
    // Views of partners no longer entitled to the list go.
    if let Ok(existing) = std::fs::read_dir(dir.join("partners")) {
        let mut gone: Vec<String> = existing
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| !name.starts_with('.') && !partners.iter().any(|p| &p.id == name && p.may_read(list)))
            .collect();
        gone.sort();
        for name in gone {
            let path = dir.join("partners").join(&name);
            std::fs::remove_dir_all(&path).map_err(io(format!("removing the view of {name}")))?;
            done.push(ViewChange::Removed { partner: name });
        }
        crate::base::warehouse::sync_dir(&dir.join("partners")).map_err(io("flushing partners/"))?;
    }
    Ok(done)
}
