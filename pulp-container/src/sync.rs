//! Syncing a container repository from a registry (Docker Registry HTTP API V2 / OCI
//! distribution), in one pipeline and one repository version.
//!
//! [`ContainerFirstStage`] lists the upstream repository's tags (paged, following `Link`),
//! keeps those `includes`/`excludes` select, and per tag: asks for the manifest's digest with
//! a `HEAD` (a manifest already stored is reused without downloading it), else downloads it
//! with every manifest type in `Accept`, checks its digest, and emits — through typed
//! content futures, each unit waiting for the saved ids of what it references — the config
//! and layer blobs, the image manifests an index lists, the manifest, then the tag. The
//! config blob is always downloaded (its architecture, os and labels go into the manifest);
//! layers follow the remote's policy. A registry's Bearer challenge is answered by the
//! downloader (with the remote's credentials, if any). Any failure fails the sync: no
//! version is made.

use std::collections::HashMap;
use std::sync::Mutex;

use pulp_plugin_api::deps::futures::{self, TryStreamExt};
use pulp_plugin_api::deps::serde_json::{self, Value};
use pulp_plugin_api::deps::url;
use pulp_plugin_api::download::{DownloadResponse, Downloader};
use pulp_plugin_api::models::{self, find_content, Policy};
use pulp_plugin_api::pipeline::{
    ContentFuture, DeclarativeArtifact, DeclarativeContent, DeclarativeVersion, FirstStage,
    PipelineError, StageOutput, SyncContext,
};
use pulp_plugin_api::repository::RepositoryVersion;
use pulp_plugin_api::tasking::{TaskContext, TaskError, TaskOutput};
use pulp_plugin_api::{ChecksumType, ExpectedArtifact, PulpId};
use serde::{Deserialize, Serialize};

use crate::media::{self, Descriptor, ParsedManifest, MANIFEST_TYPES};
use crate::{Blob, ContainerRemote, ContainerRepository, ListedManifest, Manifest, Tag};

/// The stable name of the sync task (pulp_container's).
pub const SYNC_TASK: &str = "pulp_container.app.tasks.synchronize";

/// The arguments of [`SYNC_TASK`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncArgs {
    /// The remote to sync from.
    pub remote_pk: PulpId,
    /// The repository to sync into.
    pub repository_pk: PulpId,
    /// Whether what the upstream no longer has is removed.
    #[serde(default)]
    pub mirror: bool,
}

/// The largest manifest, tag list page or config blob read into memory.
const MAX_DOCUMENT: usize = 16 * 1024 * 1024;
/// Tags asked for per page of `tags/list`.
const TAGS_PAGE: usize = 1000;
/// Tags whose manifests are read at the same time.
const TAG_CONCURRENCY: usize = 8;

fn accept() -> String {
    MANIFEST_TYPES.join(", ")
}

fn failed(what: impl std::fmt::Display) -> PipelineError {
    PipelineError::new(what.to_string())
}

/// Reads a response's whole body (at most [`MAX_DOCUMENT`] bytes).
async fn body(mut response: DownloadResponse) -> Result<Vec<u8>, PipelineError> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        out.extend_from_slice(&chunk);
        if out.len() > MAX_DOCUMENT {
            return Err(failed(format!(
                "{}: more than {MAX_DOCUMENT} bytes",
                response.url
            )));
        }
    }
    Ok(out)
}

/// The client of one upstream repository in a registry.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    downloader: Downloader,
    /// The registry's root (`http://host:port`), without a trailing `/`.
    base: String,
    /// The repository (`library/busybox`).
    name: String,
}

impl RegistryClient {
    /// The client of `name` at the registry `url`.
    pub fn new(downloader: Downloader, url: &str, name: &str) -> Result<Self, PipelineError> {
        url::Url::parse(url).map_err(|e| failed(format!("remote url '{url}': {e}")))?;
        Ok(Self {
            downloader,
            base: url.trim_end_matches('/').to_string(),
            name: name.to_string(),
        })
    }

    /// `<registry>/v2/<name>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.name)
    }

    /// Every tag, following the `Link: <…>; rel="next"` pages.
    pub async fn tags(&self) -> Result<Vec<String>, PipelineError> {
        let mut tags = Vec::new();
        let mut next = Some(self.url(&format!("tags/list?n={TAGS_PAGE}")));
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > 100_000 {
                return Err(failed(format!("{url}: too many tag pages")));
            }
            let response = self.downloader.open_with("GET", &url, &[]).await?;
            let link = response.header("link").map(str::to_string);
            let bytes = body(response).await?;
            let page: Value = serde_json::from_slice(&bytes)
                .map_err(|e| failed(format!("{url}: the tag list is not JSON: {e}")))?;
            let names = page.get("tags").and_then(Value::as_array);
            tags.extend(
                names
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string)),
            );
            next = match link.as_deref().and_then(next_link) {
                Some(target) => Some(
                    url::Url::parse(&url)
                        .and_then(|u| u.join(&target))
                        .map_err(|e| failed(format!("{url}: bad Link '{target}': {e}")))?
                        .to_string(),
                ),
                None => None,
            };
        }
        Ok(tags)
    }

    /// The digest a `HEAD` of the manifest `reference` gives (`Docker-Content-Digest`).
    pub async fn head_manifest(&self, reference: &str) -> Result<Option<String>, PipelineError> {
        let accept = accept();
        let response = self
            .downloader
            .open_with(
                "HEAD",
                &self.url(&format!("manifests/{reference}")),
                &[("accept", &accept)],
            )
            .await?;
        Ok(response
            .header("docker-content-digest")
            .filter(|d| media::is_sha256_digest(d))
            .map(str::to_string))
    }

    /// The manifest `reference` (tag or digest): its bytes and `Content-Type`.
    pub async fn manifest(
        &self,
        reference: &str,
    ) -> Result<(Vec<u8>, Option<String>), PipelineError> {
        let accept = accept();
        let response = self
            .downloader
            .open_with(
                "GET",
                &self.url(&format!("manifests/{reference}")),
                &[("accept", &accept)],
            )
            .await?;
        let served = response.content_type.clone();
        Ok((body(response).await?, served))
    }

    /// A small blob's bytes (a config), checked against its digest.
    pub async fn blob_bytes(&self, digest: &str) -> Result<Vec<u8>, PipelineError> {
        let url = self.url(&format!("blobs/{digest}"));
        let bytes = body(self.downloader.open_with("GET", &url, &[]).await?).await?;
        let actual = media::digest_of(&bytes);
        if actual != digest {
            return Err(failed(format!(
                "{url}: digest mismatch: expected {digest}, got {actual}"
            )));
        }
        Ok(bytes)
    }
}

/// The target of `Link: <url>; rel="next"`.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next")
            .then(|| target.to_string())
    })
}

/// Units already emitted by this sync, by digest (so that shared blobs and listed manifests
/// are emitted once).
#[derive(Debug, Default)]
struct Emitted {
    blobs: HashMap<String, PulpId>,
    manifests: HashMap<String, PulpId>,
}

/// The first stage of a container sync (see the module's documentation).
#[derive(Debug)]
pub struct ContainerFirstStage {
    ctx: SyncContext,
    remote_id: PulpId,
    client: RegistryClient,
    deferred: bool,
    includes: Option<Vec<String>>,
    excludes: Option<Vec<String>>,
    emitted: Mutex<Emitted>,
}

impl ContainerFirstStage {
    /// The first stage syncing from `remote` through `downloader`.
    pub fn new(
        ctx: &SyncContext,
        remote: &models::Model<ContainerRemote>,
        downloader: Downloader,
    ) -> Result<Self, PipelineError> {
        let fields = remote.fields();
        Ok(Self {
            ctx: ctx.clone(),
            remote_id: remote.pulp_id(),
            client: RegistryClient::new(downloader, &fields.url, &remote.upstream_name)?,
            deferred: fields.policy != Policy::Immediate,
            includes: remote.includes.clone(),
            excludes: remote.excludes.clone(),
            emitted: Mutex::new(Emitted::default()),
        })
    }

    fn known_blob(&self, digest: &str) -> Option<PulpId> {
        self.emitted.lock().ok()?.blobs.get(digest).copied()
    }

    fn known_manifest(&self, digest: &str) -> Option<PulpId> {
        self.emitted.lock().ok()?.manifests.get(digest).copied()
    }

    fn remember(&self, blobs: &[(String, PulpId)], manifest: Option<(&str, PulpId)>) {
        if let Ok(mut emitted) = self.emitted.lock() {
            for (digest, id) in blobs {
                emitted.blobs.insert(digest.clone(), *id);
            }
            if let Some((digest, id)) = manifest {
                emitted.manifests.insert(digest.to_string(), id);
            }
        }
    }

    /// The blob of `descriptor`, to download now (`always`) or as the policy says.
    fn blob(
        &self,
        descriptor: &Descriptor,
        always: bool,
    ) -> (DeclarativeContent, ContentFuture<Blob>) {
        let hex = descriptor.digest.trim_start_matches("sha256:").to_string();
        let mut expected = ExpectedArtifact::any().with_digest(ChecksumType::Sha256, hex);
        if descriptor.size > 0 {
            expected = expected.with_size(descriptor.size);
        }
        let artifact = DeclarativeArtifact::new(
            self.client.url(&format!("blobs/{}", descriptor.digest)),
            descriptor.digest.clone(),
            expected,
            Some(self.remote_id),
            self.deferred && !always,
        );
        DeclarativeContent::awaited(
            Blob {
                digest: descriptor.digest.clone(),
            },
            vec![artifact],
        )
    }

    /// Emits a manifest (and first what it references) and returns its saved id.
    async fn emit_manifest(
        &self,
        output: &StageOutput,
        manifest: Manifest,
    ) -> Result<PulpId, PipelineError> {
        let digest = manifest.digest.clone();
        let (item, saved) = DeclarativeContent::awaited(manifest, vec![]);
        output.put(item).await?;
        let id = saved.await?.pulp_id();
        self.remember(&[], Some((&digest, id)));
        Ok(id)
    }

    /// A manifest stored by an earlier sync (found by the digest a `HEAD` gave), emitted
    /// again without downloading it: the version's closure brings what it references.
    async fn stored_manifest(
        &self,
        output: &StageOutput,
        digest: &str,
    ) -> Result<Option<PulpId>, PipelineError> {
        let probe = Manifest {
            digest: digest.to_string(),
            schema_version: 2,
            media_type: String::new(),
            image_type: None,
            data: String::new(),
            annotations: Value::Null,
            labels: Value::Null,
            is_bootable: false,
            is_flatpak: false,
            architecture: None,
            os: None,
            compressed_image_size: None,
            config_blob: None,
            blobs: Vec::new(),
            listed_manifests: Vec::new(),
        };
        let db = self.ctx.app().db();
        let Some(Some(found)) = find_content(db, &[probe]).await?.into_iter().next() else {
            return Ok(None);
        };
        let id = self.emit_manifest(output, found.detail.clone()).await?;
        Ok(Some(id))
    }

    /// Downloads the manifest `reference`; checks it against `digest` (when known).
    async fn download_manifest(
        &self,
        reference: &str,
        digest: Option<&str>,
    ) -> Result<(String, String, ParsedManifest), PipelineError> {
        let (bytes, served) = self.client.manifest(reference).await?;
        let actual = media::digest_of(&bytes);
        if let Some(want) = digest {
            if want != actual {
                return Err(failed(format!(
                    "{}: digest mismatch: expected {want}, got {actual}",
                    self.client.url(&format!("manifests/{reference}"))
                )));
            }
        }
        let parsed = media::parse_manifest(&bytes, served.as_deref())
            .map_err(|e| failed(format!("manifest {reference}: {e}")))?;
        let data = String::from_utf8(bytes)
            .map_err(|_| failed(format!("manifest {reference} is not UTF-8")))?;
        Ok((actual, data, parsed))
    }

    /// Emits an image manifest with its config and layers.
    async fn image_manifest(
        &self,
        output: &StageOutput,
        digest: String,
        data: String,
        parsed: ParsedManifest,
    ) -> Result<PulpId, PipelineError> {
        let config = parsed
            .config
            .clone()
            .ok_or_else(|| failed(format!("manifest {digest} has no config")))?;
        let image = media::parse_config(&self.client.blob_bytes(&config.digest).await?);
        let mut waiting: Vec<(String, ContentFuture<Blob>)> = Vec::new();
        let mut ids: HashMap<String, PulpId> = HashMap::new();
        for (descriptor, always) in std::iter::once((&config, true)).chain(
            parsed
                .layers
                .iter()
                .filter(|l| !l.foreign)
                .map(|l| (l, false)),
        ) {
            if ids.contains_key(&descriptor.digest)
                || waiting.iter().any(|(d, _)| *d == descriptor.digest)
            {
                continue;
            }
            if let Some(id) = self.known_blob(&descriptor.digest) {
                ids.insert(descriptor.digest.clone(), id);
                continue;
            }
            let (item, saved) = self.blob(descriptor, always);
            waiting.push((descriptor.digest.clone(), saved));
            output.put(item).await?;
        }
        let mut fresh = Vec::new();
        for (blob_digest, saved) in waiting {
            let id = saved.await?.pulp_id();
            ids.insert(blob_digest.clone(), id);
            fresh.push((blob_digest, id));
        }
        self.remember(&fresh, None);
        let kind = media::image_type(&image.labels);
        let size: u64 = parsed.layers.iter().map(|l| l.size).sum();
        let manifest = Manifest {
            digest,
            schema_version: parsed.schema_version,
            media_type: parsed.media_type,
            image_type: Some(kind.to_string()),
            data,
            annotations: parsed.annotations,
            labels: image.labels,
            is_bootable: kind == "bootable",
            is_flatpak: kind == "flatpak",
            architecture: image.architecture,
            os: image.os,
            compressed_image_size: i64::try_from(size).ok(),
            config_blob: ids.get(&config.digest).copied(),
            blobs: parsed
                .layers
                .iter()
                .filter_map(|l| ids.get(&l.digest).copied())
                .collect(),
            listed_manifests: Vec::new(),
        };
        self.emit_manifest(output, manifest).await
    }

    /// Emits the manifest `reference` (tag or digest) and all it needs; its saved id.
    async fn manifest(
        &self,
        output: &StageOutput,
        reference: &str,
    ) -> Result<PulpId, PipelineError> {
        let head = self.client.head_manifest(reference).await?;
        let known = head
            .as_deref()
            .or_else(|| reference.starts_with("sha256:").then_some(reference));
        if let Some(digest) = known {
            if let Some(id) = self.known_manifest(digest) {
                return Ok(id);
            }
            if let Some(id) = self.stored_manifest(output, digest).await? {
                return Ok(id);
            }
        }
        let (digest, data, parsed) = self.download_manifest(reference, known).await?;
        if !media::is_index(&parsed.media_type) {
            return self.image_manifest(output, digest, data, parsed).await;
        }
        let mut listed = Vec::new();
        for entry in &parsed.manifests {
            let id = match self.known_manifest(&entry.digest) {
                Some(id) => id,
                None => match self.stored_manifest(output, &entry.digest).await? {
                    Some(id) => id,
                    None => {
                        let (child, child_data, child_parsed) = self
                            .download_manifest(&entry.digest, Some(&entry.digest))
                            .await?;
                        if media::is_index(&child_parsed.media_type) {
                            return Err(failed(format!(
                                "index {digest} lists the index {child}: nested indexes are not supported"
                            )));
                        }
                        self.image_manifest(output, child, child_data, child_parsed)
                            .await?
                    }
                },
            };
            listed.push(ListedManifest {
                manifest: id,
                digest: entry.digest.clone(),
                platform: entry.platform.clone(),
            });
        }
        let manifest = Manifest {
            digest,
            schema_version: parsed.schema_version,
            media_type: parsed.media_type,
            image_type: Some("index".into()),
            data,
            annotations: parsed.annotations,
            labels: Value::Object(Default::default()),
            is_bootable: false,
            is_flatpak: false,
            architecture: None,
            os: None,
            compressed_image_size: None,
            config_blob: None,
            blobs: Vec::new(),
            listed_manifests: listed,
        };
        self.emit_manifest(output, manifest).await
    }

    async fn tag(&self, output: &StageOutput, name: String) -> Result<(), PipelineError> {
        let manifest = self.manifest(output, &name).await?;
        output
            .put(DeclarativeContent::new(
                Tag {
                    name,
                    tagged_manifest: manifest,
                },
                vec![],
            ))
            .await
    }
}

impl FirstStage for ContainerFirstStage {
    fn name(&self) -> &str {
        "ContainerFirstStage"
    }

    async fn run(self, output: StageOutput) -> Result<(), PipelineError> {
        let listing = self
            .ctx
            .progress("Downloading tag list", "sync.downloading.tag_list", None)
            .await?;
        let mut tags: Vec<String> = self
            .client
            .tags()
            .await?
            .into_iter()
            .filter(|t| media::tag_selected(t, self.includes.as_deref(), self.excludes.as_deref()))
            .collect();
        tags.sort();
        tags.dedup();
        listing.increment(1).await?;
        listing.complete().await?;
        let digests: Vec<String> = self
            .includes
            .iter()
            .flatten()
            .filter(|i| media::is_sha256_digest(i))
            .cloned()
            .collect();
        let processing = self
            .ctx
            .progress(
                "Processing Tags",
                "sync.processing.tag",
                u64::try_from(tags.len()).ok(),
            )
            .await?;
        let stage = &self;
        let output = &output;
        let processing = &processing;
        futures::stream::iter(tags.into_iter().map(Ok::<_, PipelineError>))
            .map_ok(|tag| async move {
                stage.tag(output, tag).await?;
                processing.increment(1).await
            })
            .try_buffer_unordered(TAG_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        processing.complete().await?;
        for digest in digests {
            self.manifest(output, &digest).await?;
        }
        Ok(())
    }
}

/// Syncs `repository_id` from `remote_id` with the remote's policy; `mirror`: what the
/// upstream no longer has is removed. Returns the new version, or `None` when nothing changed.
pub async fn synchronize(
    ctx: &SyncContext,
    remote_id: PulpId,
    repository_id: PulpId,
    mirror: bool,
) -> Result<Option<RepositoryVersion>, PipelineError> {
    let db = ctx.app().db();
    let remote = models::get::<ContainerRemote>(db, remote_id).await?;
    models::get::<ContainerRepository>(db, repository_id).await?;
    let downloader = Downloader::for_remote(remote.fields())?;
    let ctx = ctx.clone().with_downloader(remote_id, downloader.clone());
    let first = ContainerFirstStage::new(&ctx, &remote, downloader)?;
    DeclarativeVersion::new(first, repository_id, mirror)
        .create(&ctx)
        .await
}

/// The task function of [`SYNC_TASK`]: the created version's href goes into
/// `created_resources`.
pub async fn sync_task(task: TaskContext) -> TaskOutput {
    let args: SyncArgs = task.parse_args()?;
    let ctx = SyncContext::for_task(&task);
    let made = synchronize(&ctx, args.remote_pk, args.repository_pk, args.mirror)
        .await
        .map_err(|e| TaskError::new(e.to_string()))?;
    if let Some(version) = made {
        let repository = models::href::<ContainerRepository>(args.repository_pk);
        task.add_created_resource(models::version_href(&repository, version.number));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::next_link;

    #[test]
    fn the_next_page_is_read_from_link() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?last=b&n=2")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
    }
}
