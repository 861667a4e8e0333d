//! The plugin's detail types, with the names and fields of pulp_container's `container.*`
//! schemas: [`Blob`], [`Manifest`], [`Tag`], [`ContainerRemote`], [`ContainerRepository`],
//! [`ContainerDistribution`].

use pulp_plugin_api::deps::serde_json::{self, Map, Value};
use pulp_plugin_api::models::{href, Detail};
use pulp_plugin_api::validation::{Validate, ValidationErrors};
use pulp_plugin_api::PulpId;
use serde::{Deserialize, Serialize};

use crate::media;

/// A blob: a layer or a config, stored as one artifact (`container.blob`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Detail)]
#[pulp(kind = content, pulp_type = "container.blob", table = "container_blob")]
#[pulp(endpoint = "container/blobs", prn_model = "container.blob")]
#[pulp(natural_key(digest), filter(digest))]
pub struct Blob {
    /// `sha256:<hex>` of its bytes.
    pub digest: String,
}

impl Validate for Blob {
    fn validate(&self, errors: &mut ValidationErrors) {
        if !media::is_sha256_digest(&self.digest) {
            errors.add(
                "digest",
                format!("'{}' is not a sha256 digest.", self.digest),
            );
        }
    }
}

/// A manifest an index lists, with the platform the index gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedManifest {
    /// The listed manifest's id.
    pub manifest: PulpId,
    /// Its digest.
    pub digest: String,
    /// The index entry's `platform` object (architecture, os, variant, …), `null` if none.
    #[serde(default)]
    pub platform: Value,
}

/// A manifest: an image manifest or an index (`container.manifest`). `data` holds the
/// manifest's bytes as the registry served them (never re-serialized: its digest is theirs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Detail)]
#[pulp(kind = content, pulp_type = "container.manifest", table = "container_manifest")]
#[pulp(endpoint = "container/manifests", prn_model = "container.manifest")]
#[pulp(natural_key(digest), filter(digest, media_type))]
#[pulp(api_response = crate::models::manifest_response)]
pub struct Manifest {
    /// `sha256:<hex>` of `data`.
    pub digest: String,
    /// `schemaVersion` (2).
    pub schema_version: i64,
    /// Docker v2 schema 2, Docker manifest list, OCI manifest or OCI index.
    pub media_type: String,
    /// pulp_container's `type`: `image`, `index`, `bootable`, `flatpak`, `artifact`.
    pub image_type: Option<String>,
    /// The raw manifest (UTF-8 JSON), byte for byte.
    pub data: String,
    /// OCI annotations.
    #[pulp(column = json)]
    pub annotations: Value,
    /// The config's `config.Labels`.
    #[pulp(column = json)]
    pub labels: Value,
    /// Whether the image is bootable (pulp_container's deprecated flag).
    pub is_bootable: bool,
    /// Whether the image is a flatpak (pulp_container's deprecated flag).
    pub is_flatpak: bool,
    /// The config's architecture.
    pub architecture: Option<String>,
    /// The config's os.
    pub os: Option<String>,
    /// Sum of the layers' sizes.
    pub compressed_image_size: Option<i64>,
    /// The config blob (image manifests).
    pub config_blob: Option<PulpId>,
    /// The layer blobs (image manifests), in order.
    pub blobs: Vec<PulpId>,
    /// The listed manifests (indexes), in order, with their platforms.
    pub listed_manifests: Vec<ListedManifest>,
}

impl Manifest {
    /// Every unit this manifest needs in a version beside itself (config, layers, listed).
    pub fn references(&self) -> Vec<PulpId> {
        let mut ids: Vec<PulpId> = self.config_blob.into_iter().collect();
        ids.extend(self.blobs.iter().copied());
        ids.extend(self.listed_manifests.iter().map(|l| l.manifest));
        ids
    }

    /// Whether it is an index (Docker manifest list or OCI index).
    pub fn is_index(&self) -> bool {
        media::is_index(&self.media_type)
    }
}

impl Validate for Manifest {
    fn validate(&self, errors: &mut ValidationErrors) {
        if !media::is_sha256_digest(&self.digest) {
            errors.add(
                "digest",
                format!("'{}' is not a sha256 digest.", self.digest),
            );
        } else if media::digest_of(self.data.as_bytes()) != self.digest {
            errors.add("digest", "The digest is not the sha256 of the manifest.");
        }
        if !media::MANIFEST_TYPES.contains(&self.media_type.as_str()) {
            errors.add(
                "media_type",
                format!("'{}' is not a supported manifest type.", self.media_type),
            );
        }
    }
}

fn ids_to_hrefs<T: Detail>(value: Option<Value>) -> Value {
    match value {
        Some(Value::Array(items)) => Value::Array(
            items
                .into_iter()
                .filter_map(|v| serde_json::from_value::<PulpId>(v).ok())
                .map(|id| Value::String(href::<T>(id)))
                .collect(),
        ),
        _ => Value::Array(Vec::new()),
    }
}

/// pulp_container's response of a manifest: references as hrefs, `type`, no raw data.
pub fn manifest_response(response: &mut Map<String, Value>) {
    response.remove("data");
    if let Some(kind) = response.remove("image_type") {
        response.insert("type".into(), kind);
    }
    let config = response
        .remove("config_blob")
        .and_then(|v| serde_json::from_value::<PulpId>(v).ok())
        .map(|id| Value::String(href::<Blob>(id)))
        .unwrap_or(Value::Null);
    response.insert("config_blob".into(), config);
    let blobs = ids_to_hrefs::<Blob>(response.remove("blobs"));
    response.insert("blobs".into(), blobs);
    let listed = match response.remove("listed_manifests") {
        Some(Value::Array(items)) => Value::Array(
            items
                .into_iter()
                .filter_map(|v| serde_json::from_value::<ListedManifest>(v).ok())
                .map(|l| Value::String(href::<Manifest>(l.manifest)))
                .collect(),
        ),
        _ => Value::Array(Vec::new()),
    };
    response.insert("listed_manifests".into(), listed);
}

/// A tag: a name pointing at a manifest (`container.tag`); a version holds one tag per name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Detail)]
#[pulp(kind = content, pulp_type = "container.tag", table = "container_tag")]
#[pulp(endpoint = "container/tags", prn_model = "container.tag")]
#[pulp(natural_key(name, tagged_manifest), repo_key(name), filter(name))]
#[pulp(api_response = crate::models::tag_response)]
pub struct Tag {
    /// The tag's name.
    pub name: String,
    /// The manifest it points at.
    pub tagged_manifest: PulpId,
}

impl Validate for Tag {
    fn validate(&self, errors: &mut ValidationErrors) {
        if !media::is_tag_name(&self.name) {
            errors.add("name", format!("'{}' is not a valid tag name.", self.name));
        }
    }
}

/// pulp_container's response of a tag: `tagged_manifest` as an href.
pub fn tag_response(response: &mut Map<String, Value>) {
    if let Some(id) = response
        .remove("tagged_manifest")
        .and_then(|v| serde_json::from_value::<PulpId>(v).ok())
    {
        response.insert(
            "tagged_manifest".into(),
            Value::String(href::<Manifest>(id)),
        );
    }
}

/// A remote registry repository (`container.container`): the remote's `url` is the
/// registry (`https://registry.example`), `upstream_name` the repository in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Detail)]
#[serde(from = "RemoteBody")]
#[pulp(kind = remote, pulp_type = "container.container", table = "container_containerremote")]
#[pulp(
    endpoint = "container/container",
    prn_model = "container.containerremote"
)]
#[pulp(api_response = crate::models::remote_response)]
pub struct ContainerRemote {
    /// The repository in the registry (`library/busybox`).
    pub upstream_name: String,
    /// Tags (with `*` and `?` wildcards) and digests to sync; `null`: every tag.
    #[pulp(column = json)]
    pub includes: Option<Vec<String>>,
    /// Tag patterns not to sync (after `includes`).
    #[pulp(column = json)]
    pub excludes: Option<Vec<String>>,
    /// Deprecated alias of `includes` (write-only: merged into `includes`, never stored).
    #[pulp(column = json)]
    pub include_tags: Option<Vec<String>>,
    /// Deprecated alias of `excludes` (write-only: merged into `excludes`, never stored).
    #[pulp(column = json)]
    pub exclude_tags: Option<Vec<String>>,
    /// A sigstore URL (kept; signatures are not synced yet).
    pub sigstore: Option<String>,
}

/// What a remote's body may hold: the deprecated aliases are merged on the way in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct RemoteBody {
    upstream_name: String,
    includes: Option<Vec<String>>,
    excludes: Option<Vec<String>>,
    include_tags: Option<Vec<String>>,
    exclude_tags: Option<Vec<String>>,
    sigstore: Option<String>,
}

fn merge(list: Option<Vec<String>>, alias: Option<Vec<String>>) -> Option<Vec<String>> {
    match (list, alias) {
        (list, None) => list,
        (None, Some(alias)) if alias.is_empty() => None,
        (list, Some(alias)) => Some(list.unwrap_or_default().into_iter().chain(alias).collect()),
    }
}

impl From<RemoteBody> for ContainerRemote {
    fn from(body: RemoteBody) -> Self {
        Self {
            upstream_name: body.upstream_name,
            includes: merge(body.includes, body.include_tags),
            excludes: merge(body.excludes, body.exclude_tags),
            include_tags: None,
            exclude_tags: None,
            sigstore: body.sigstore,
        }
    }
}

impl Validate for ContainerRemote {
    fn validate(&self, errors: &mut ValidationErrors) {
        if self.upstream_name.trim().is_empty() {
            errors.add("upstream_name", "This field may not be blank.");
        } else if !media::is_repository_name(&self.upstream_name) {
            errors.add(
                "upstream_name",
                format!(
                    "'{}' is not a registry repository name.",
                    self.upstream_name
                ),
            );
        }
        for (field, list) in [("includes", &self.includes), ("excludes", &self.excludes)] {
            for item in list.iter().flatten() {
                if item.is_empty() || item.len() > 255 {
                    errors.add(field, "Each item must have 1 to 255 characters.");
                }
            }
        }
    }
}

/// The aliases are write-only.
pub fn remote_response(response: &mut Map<String, Value>) {
    response.remove("include_tags");
    response.remove("exclude_tags");
}

/// A repository of images (`container.container`); sync and the plugin's own add/remove
/// tasks make its versions (see [`crate::repository`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Detail)]
#[pulp(kind = repository, pulp_type = "container.container")]
#[pulp(
    table = "container_containerrepository",
    endpoint = "container/container"
)]
#[pulp(prn_model = "container.containerrepository")]
#[pulp(api_response = crate::models::repository_response)]
pub struct ContainerRepository {}

impl Validate for ContainerRepository {
    fn validate(&self, _: &mut ValidationErrors) {}
}

/// pulp_container's repository has a signing service field (none here yet).
pub fn repository_response(response: &mut Map<String, Value>) {
    response.insert("manifest_signing_service".into(), Value::Null);
}

/// A distribution of a container repository (`container.container`): served by the
/// registry API at its `base_path`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Detail)]
#[serde(default)]
#[pulp(kind = distribution, pulp_type = "container.container")]
#[pulp(
    table = "container_containerdistribution",
    endpoint = "container/container"
)]
#[pulp(prn_model = "container.containerdistribution")]
#[pulp(api_response = crate::models::distribution_response)]
pub struct ContainerDistribution {
    /// Whether pulling needs a user allowed to (otherwise anonymous users may pull).
    pub private: bool,
    /// An optional description.
    pub description: Option<String>,
}

impl Validate for ContainerDistribution {
    fn validate(&self, _: &mut ValidationErrors) {}
}

/// pulp_container's distribution: `registry_path` (read-only, the base path as a registry
/// repository name: pulp_container prefixes the request's host, which this response does
/// not know), no `base_url`, `remote` and `namespace` read-only.
pub fn distribution_response(response: &mut Map<String, Value>) {
    response.remove("base_url");
    let registry_path = response.get("base_path").cloned().unwrap_or(Value::Null);
    response.insert("registry_path".into(), registry_path);
    response.entry("remote").or_insert(Value::Null);
    response.entry("namespace").or_insert(Value::Null);
}
