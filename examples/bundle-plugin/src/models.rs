//! The plugin's detail types: [`Blob`], [`Bundle`] (which references blobs),
//! [`BundleRepository`] (which keeps bundles and their blobs together) and [`BundleRemote`]
//! (where a sync reads bundles from).

use std::collections::{BTreeMap, BTreeSet};

use pulp_plugin_api::models::{
    get_many, Column, ContentDetail, ContentKind, Detail, RemoteKind, RepositoryKind,
};
use pulp_plugin_api::repository::{NewVersion, RepositoryType, VersionError};
use pulp_plugin_api::validation::{validate_relative_path, Validate, ValidationErrors};
use pulp_plugin_api::PulpId;
use serde::{Deserialize, Serialize};

/// A blob: a named file with a sha256 (`bundle.blob`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    /// Its path.
    pub name: String,
    /// Its sha256, lower-case hex.
    pub digest: String,
}

impl Validate for Blob {
    fn validate(&self, errors: &mut ValidationErrors) {
        if let Err(e) = validate_relative_path(&self.name) {
            errors.add("name", e.to_string());
        }
        if self.digest.len() != 64 || !self.digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            errors.add("digest", "Must be a sha256 in hex.");
        }
    }
}

impl Detail for Blob {
    type Kind = ContentKind;
    const PULP_TYPE: &'static str = "bundle.blob";
    const TABLE: &'static str = "bundle_blob";
    const COLUMNS: &'static [Column] = &[Column::text("name"), Column::text("digest")];
    const PRN_MODEL: &'static str = "bundle.blob";
    const ENDPOINT: &'static str = "bundle/blobs";
}

impl ContentDetail for Blob {
    const NATURAL_KEY: &'static [&'static str] = &["name", "digest"];
}

/// A bundle: a named, versioned list of member blobs (`bundle.bundle`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// Its name (its repository key).
    pub name: String,
    /// Its version.
    pub version: String,
    /// Ids of its member blobs.
    pub members: Vec<PulpId>,
}

impl Validate for Bundle {
    fn validate(&self, errors: &mut ValidationErrors) {
        if self.name.trim().is_empty() {
            errors.add("name", "This field may not be blank.");
        }
        if self.version.trim().is_empty() {
            errors.add("version", "This field may not be blank.");
        }
    }
}

impl Detail for Bundle {
    type Kind = ContentKind;
    const PULP_TYPE: &'static str = "bundle.bundle";
    const TABLE: &'static str = "bundle_bundle";
    const COLUMNS: &'static [Column] = &[
        Column::text("name"),
        Column::text("version"),
        Column::json("members"),
    ];
    const PRN_MODEL: &'static str = "bundle.bundle";
    const ENDPOINT: &'static str = "bundle/bundles";
}

impl ContentDetail for Bundle {
    const NATURAL_KEY: &'static [&'static str] = &["name", "version"];
    const REPO_KEY: &'static [&'static str] = &["name"];
}

/// A remote serving a bundle index (`bundle.bundle`): its `url` names the index, see
/// [`crate::sync`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRemote {}

impl Validate for BundleRemote {
    fn validate(&self, _: &mut ValidationErrors) {}
}

impl Detail for BundleRemote {
    type Kind = RemoteKind;
    const PULP_TYPE: &'static str = "bundle.bundle";
    const TABLE: &'static str = "bundle_remote";
    const COLUMNS: &'static [Column] = &[];
    const PRN_MODEL: &'static str = "bundle.bundleremote";
    const ENDPOINT: &'static str = "bundle/bundle";
}

/// A repository of bundles and blobs (`bundle.bundle`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRepository {}

impl Validate for BundleRepository {
    fn validate(&self, _: &mut ValidationErrors) {}
}

impl Detail for BundleRepository {
    type Kind = RepositoryKind;
    const PULP_TYPE: &'static str = "bundle.bundle";
    const TABLE: &'static str = "bundle_repository";
    const COLUMNS: &'static [Column] = &[];
    const PRN_MODEL: &'static str = "bundle.bundlerepository";
    const ENDPOINT: &'static str = "bundle/bundle";
}

impl RepositoryType for BundleRepository {
    const CONTENT_TYPES: &'static [&'static str] = &["bundle.blob", "bundle.bundle"];

    /// 1. a newer bundle replaces an older one of the same name;
    /// 2. the members of added bundles are added;
    /// 3. a blob removed while a remaining bundle needs it is refused.
    async fn finalize_new_version(version: &mut NewVersion) -> Result<(), VersionError> {
        version.remove_duplicates::<Bundle>().await?;
        let added = version.added_ids(Some(Bundle::PULP_TYPE)).await?;
        let added = get_many::<Bundle>(version.db(), &added).await?;
        let members: Vec<PulpId> = added
            .iter()
            .flat_map(|b| b.members.iter().copied())
            .collect();
        version.add_content(&members).await?;
        let removed: BTreeSet<PulpId> = version
            .removed_ids(Some(Blob::PULP_TYPE))
            .await?
            .into_iter()
            .collect();
        if removed.is_empty() {
            return Ok(());
        }
        let present = version.present_ids(Some(Bundle::PULP_TYPE)).await?;
        let mut needed: BTreeMap<PulpId, Vec<String>> = BTreeMap::new();
        for bundle in get_many::<Bundle>(version.db(), &present).await? {
            for member in bundle.members.iter().filter(|m| removed.contains(m)) {
                needed
                    .entry(*member)
                    .or_default()
                    .push(format!("{} {}", bundle.name, bundle.version));
            }
        }
        if let Some((blob, bundles)) = needed.into_iter().next() {
            let name = get_many::<Blob>(version.db(), &[blob])
                .await?
                .first()
                .map(|b| b.name.clone())
                .unwrap_or_else(|| blob.to_string());
            return Err(VersionError::Refused(format!(
                "cannot remove blob '{name}' ({blob}): it is a member of bundle {} still in the repository; \
                 remove the bundle first",
                bundles.join(", ")
            )));
        }
        Ok(())
    }
}
