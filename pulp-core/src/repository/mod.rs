//! Repository versions: numbered from 0, immutable once complete, membership stored as
//! stretches (`core_repositorycontent(version_added, version_removed)`) so a version costs
//! O(changes). A [`NewVersion`] scope adds and removes content inside one transaction; the
//! plugin's `finalize_new_version` hook runs before it becomes visible, `on_new_version`
//! after. Deleting a version folds its changes into the next; `retain_repo_versions` prunes.

mod content_artifacts;
mod delete;
mod error;
mod hooks;
mod new_version;
mod summary;
mod version;

pub use content_artifacts::{
    version_content_artifacts, version_lacks_artifacts, VersionContentArtifact,
};
pub use delete::{delete_version, retain_versions};
pub use error::VersionError;
pub use hooks::{RepositoryHooks, RepositoryType};
pub use new_version::NewVersion;
pub use summary::content_summary;
pub use version::{
    contains, get_version, get_version_by_id, latest_version, list_versions, version_content,
    version_content_ids, version_content_ids_after, version_content_of_type, RepositoryVersion,
    VersionCounts,
};

pub(crate) use version::{from_row as version_from_row, VersionRow, VERSION_COLUMNS};
