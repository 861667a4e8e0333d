//! The dependency rule between pulp-core's layers (docs/plugin-api.md, "Layers"): the wire
//! forms and the domain import nothing from the HTTP layers (the REST API, the content app)
//! nor axum, so the domain can be used, tested and reasoned about without HTTP.
//!
//! This reads the sources rather than trusting review: a `use crate::api::…` slipped into a
//! model fails here, naming the file and the line.

use std::path::{Path, PathBuf};

/// Modules of the layers below the HTTP ones (paths below `pulp-core/src/`).
const LOWER_LAYERS: &[&str] = &[
    // (1) foundations and wire forms
    "db",
    "settings",
    "storage",
    "download",
    "validation",
    "wire",
    "observe",
    "webhooks",
    // (2) the domain
    "models",
    "repository",
    "publication.rs",
    "tasking",
    "pipeline",
    "importexport",
    "access_policy",
    "rbac",
    "auth",
    "status",
    "signing.rs",
    // the app holds no HTTP types either (the composition root, compose.rs, wires them)
    "app.rs",
];

/// What a lower layer must not name.
const FORBIDDEN: &[&str] = &[
    "crate::api",
    "crate::content_app",
    "pulp_core::api",
    "pulp_core::content_app",
    "axum",
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries {
            rust_files(&entry, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The `(file:line: text)` of every line of the lower layers naming a forbidden path.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for module in LOWER_LAYERS {
        let path = src.join(module);
        assert!(path.exists(), "layer module {} is gone", path.display());
        rust_files(&path, &mut files);
    }
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        for (number, line) in text.lines().enumerate() {
            // Prose may mention the layers above ("the REST API answers …"); code may not.
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if FORBIDDEN.iter().any(|f| names(code, f)) {
                found.push(format!(
                    "{}:{}: {}",
                    file.strip_prefix(src.parent().unwrap_or(src))
                        .unwrap_or(&file)
                        .display(),
                    number + 1,
                    code
                ));
            }
        }
    }
    found
}

/// Whether `code` names the path `forbidden` (as a whole path segment: `axum_extra` or
/// `crate::api_root` are other names).
fn names(code: &str, forbidden: &str) -> bool {
    code.match_indices(forbidden).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + forbidden.len()..].chars().next();
        let starts = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let ends = after.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        starts && ends
    })
}

#[test]
fn the_domain_imports_nothing_from_the_http_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "lower layers must not use the REST API, the content app or axum:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_a_forbidden_use_and_ignores_lookalikes() {
    assert!(names("use crate::api::API_ROOT;", "crate::api"));
    assert!(names("    axum::http::Method::GET,", "axum"));
    assert!(names(
        "x: pulp_core::content_app::ContentState",
        "pulp_core::content_app"
    ));
    assert!(!names("use crate::api_root;", "crate::api"));
    assert!(!names("use axum_extra::x;", "axum"));
    assert!(!names("let maxaxum = 1;", "axum"));
}

/// The registry's remaining upward edges (docs/plugin-api.md, "Layers": it still stores what
/// the REST API monomorphizes per detail type, and content-app routes are axum routers).
/// A ratchet until they are gone: a new edge fails here; removing one means removing its line.
const REGISTRY_UPWARD_EDGES: &[&str] = &[
    "use crate::api::generic::{mount_detail, mount_publication, DetailOps};",
    "crate::api::generic::mount_repository_with::<T>(routes, T::GENERIC_MODIFY)",
    "use crate::api::{ApiMounter, ApiRoutes};",
    "std::collections::BTreeMap<String, crate::api::content_upload::ContentUploadOps>,",
    "pub type ContentRoutes = fn(crate::app::App) -> axum::Router;",
    "crate::api::content_upload::ContentUploadOps::of::<T>(),",
    "crate::api::content_upload::mount_content_upload::<T>,",
];

#[test]
fn the_registry_points_up_only_where_known() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/plugin.rs");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let found: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|code| !code.starts_with("//"))
        .filter(|code| FORBIDDEN.iter().any(|f| names(code, f)))
        .collect();
    let new: Vec<&&str> = found
        .iter()
        .filter(|code| !REGISTRY_UPWARD_EDGES.contains(code))
        .collect();
    assert!(
        new.is_empty(),
        "the registry (plugin.rs) must hold declarations, not HTTP types; new upward edges:\n{}",
        new.iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let gone: Vec<&&str> = REGISTRY_UPWARD_EDGES
        .iter()
        .filter(|edge| !found.contains(edge))
        .collect();
    assert!(
        gone.is_empty(),
        "upward edges removed from plugin.rs: drop them from REGISTRY_UPWARD_EDGES too: {gone:?}"
    );
}
