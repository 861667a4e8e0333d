//! Whether a path given by a user is below the directories the settings allow
//! (`allowed_export_paths`, `allowed_import_paths`), judged after resolving links.

use std::path::{Component, Path, PathBuf};

use super::ImportExportError;
use crate::settings::Settings;

/// Which allow-list a path is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// Where exporters write (`allowed_export_paths`).
    Export,
    /// What imports read (`allowed_import_paths`).
    Import,
}

/// `path` with its links resolved (the part that exists; the rest is appended, `..` refused),
/// when it is below an allowed directory; otherwise Pulp's message.
pub fn allowed_path(
    settings: &Settings,
    kind: PathKind,
    path: &str,
) -> Result<PathBuf, ImportExportError> {
    let (allowed, word) = match kind {
        PathKind::Export => (&settings.allowed_export_paths, "export"),
        PathKind::Import => (&settings.allowed_import_paths, "import"),
    };
    let refused = || {
        ImportExportError::PathNotAllowed(format!("Path '{path}' is not an allowed {word} path"))
    };
    let given = Path::new(path);
    if !given.is_absolute() {
        return Err(ImportExportError::PathNotAllowed(format!(
            "Path '{path}' is not an absolute path"
        )));
    }
    let resolved = resolve(given).ok_or_else(refused)?;
    let inside = allowed.iter().any(|dir| {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        resolved.starts_with(&dir)
    });
    if inside {
        Ok(resolved)
    } else {
        Err(refused())
    }
}

/// The real path of the longest existing ancestor, with the rest appended; `None` when the
/// rest climbs (`..`), which could leave the resolved directory.
fn resolve(path: &Path) -> Option<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return Some(out);
        }
        let name = existing.file_name()?.to_os_string();
        rest.push(name);
        if !existing.pop() {
            return None;
        }
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            return None;
        }
    }
}
