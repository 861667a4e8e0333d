//! The container repository type's invariant: a version holds, with every tag, the manifest
//! it points at, and with every manifest its config, layers and listed manifests (the
//! *closure*). [`ContainerRepository::finalize_new_version`] brings the closure of what a
//! version adds, and refuses a version that removed something a unit left in it needs.

use std::collections::{BTreeMap, HashSet};

use pulp_plugin_api::models::{get_many_of_type, Detail};
use pulp_plugin_api::repository::{NewVersion, RepositoryType, VersionError};
use pulp_plugin_api::{Database, PulpId};

use crate::{Blob, ContainerRepository, Manifest, Tag};

/// The closure of `tags` and `manifests`: every unit they need, themselves included.
/// `stop` is called with each needed unit and the digest of the manifest (or name of the
/// tag) needing it; an error ends the walk.
async fn walk(
    db: &Database,
    tags: &[PulpId],
    manifests: &[PulpId],
    mut visit: impl FnMut(PulpId, &str) -> Result<(), VersionError>,
) -> Result<(), VersionError> {
    let mut seen: HashSet<PulpId> = HashSet::new();
    let mut queue: Vec<PulpId> = manifests.to_vec();
    for chunk in tags.chunks(5_000) {
        for tag in get_many_of_type::<Tag>(db, chunk).await? {
            visit(tag.tagged_manifest, &format!("tag '{}'", tag.name))?;
            queue.push(tag.tagged_manifest);
        }
    }
    while !queue.is_empty() {
        let batch: Vec<PulpId> = std::mem::take(&mut queue)
            .into_iter()
            .filter(|id| seen.insert(*id))
            .collect();
        for chunk in batch.chunks(1_000) {
            for manifest in get_many_of_type::<Manifest>(db, chunk).await? {
                let who = format!("manifest {}", manifest.digest);
                for needed in manifest.references() {
                    visit(needed, &who)?;
                }
                queue.extend(manifest.listed_manifests.iter().map(|l| l.manifest));
            }
        }
    }
    Ok(())
}

/// The closure of `units` (of any of the three types) in `db`: the units plus everything they
/// need. What the plugin's add tasks add.
pub async fn closure(db: &Database, units: &[PulpId]) -> Result<Vec<PulpId>, VersionError> {
    let tags: Vec<PulpId> = get_many_of_type::<Tag>(db, units)
        .await?
        .iter()
        .map(|t| t.pulp_id())
        .collect();
    let manifests: Vec<PulpId> = get_many_of_type::<Manifest>(db, units)
        .await?
        .iter()
        .map(|m| m.pulp_id())
        .collect();
    let mut out: Vec<PulpId> = units.to_vec();
    let mut seen: HashSet<PulpId> = units.iter().copied().collect();
    walk(db, &tags, &manifests, |id, _| {
        if seen.insert(id) {
            out.push(id);
        }
        Ok(())
    })
    .await?;
    Ok(out)
}

/// What a removed unit is (for the refusal's message).
async fn describe(db: &Database, id: PulpId) -> Result<String, VersionError> {
    if let Some(blob) = get_many_of_type::<Blob>(db, &[id]).await?.first() {
        return Ok(format!("blob {}", blob.digest));
    }
    if let Some(manifest) = get_many_of_type::<Manifest>(db, &[id]).await?.first() {
        return Ok(format!("manifest {}", manifest.digest));
    }
    Ok(id.to_string())
}

impl RepositoryType for ContainerRepository {
    const CONTENT_TYPES: &'static [&'static str] =
        &[Blob::PULP_TYPE, Manifest::PULP_TYPE, Tag::PULP_TYPE];
    /// Content enters and leaves through the plugin's operations ([`crate::operations`]).
    const GENERIC_MODIFY: bool = false;

    /// 1. a newer tag of a name replaces the older one;
    /// 2. what tags and manifests in the version need is added, and what was removed while
    ///    something left in the version needs it is put back (a removal keeps the closure);
    /// 3. a version in which a manifest still lacks something it needs (a unit that is not
    ///    stored) is refused: the whole version is discarded.
    async fn finalize_new_version(version: &mut NewVersion) -> Result<(), VersionError> {
        version.remove_duplicates::<Tag>().await?;
        let removed = version.removed_ids(None).await?;
        // Nothing removed: only what was added can need something missing.
        let (tags, manifests) = if removed.is_empty() {
            (
                version.added_ids(Some(Tag::PULP_TYPE)).await?,
                version.added_ids(Some(Manifest::PULP_TYPE)).await?,
            )
        } else {
            (
                version.present_ids(Some(Tag::PULP_TYPE)).await?,
                version.present_ids(Some(Manifest::PULP_TYPE)).await?,
            )
        };
        if tags.is_empty() && manifests.is_empty() {
            return Ok(());
        }
        let mut present: HashSet<PulpId> = version.present_ids(None).await?.into_iter().collect();
        let mut missing: BTreeMap<PulpId, String> = BTreeMap::new();
        walk(version.db(), &tags, &manifests, |id, who| {
            if present.insert(id) {
                missing.insert(id, who.to_string());
            }
            Ok(())
        })
        .await?;
        if missing.is_empty() {
            return Ok(());
        }
        let ids: Vec<PulpId> = missing.keys().copied().collect();
        version.add_content(&ids).await?;
        let now: HashSet<PulpId> = version.present_ids(None).await?.into_iter().collect();
        if let Some((id, who)) = missing.into_iter().find(|(id, _)| !now.contains(id)) {
            let what = describe(version.db(), id).await?;
            return Err(VersionError::Refused(format!(
                "{who} needs {what}, which is not stored: the version is refused"
            )));
        }
        Ok(())
    }
}
