//! Media types, digests, names and the parts of manifests the plugin reads. Manifests are
//! read as JSON values (never re-serialized: their bytes are kept as they came).

use pulp_plugin_api::deps::serde_json::{self, Value};
use sha2::{Digest, Sha256};

/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The manifest types the plugin syncs and serves.
pub const MANIFEST_TYPES: &[&str] = &[
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    OCI_INDEX,
];

/// Whether `media_type` is an index (manifest list).
pub fn is_index(media_type: &str) -> bool {
    media_type == DOCKER_MANIFEST_LIST || media_type == OCI_INDEX
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Whether `digest` is `sha256:` and 64 lower-case hex digits.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A tag name as the distribution spec has it: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn is_tag_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 128
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A repository name: `/`-separated components of `[a-z0-9]+([._-][a-z0-9]+)*` (the
/// distribution spec's grammar, `__` allowed as a separator).
pub fn is_repository_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && part
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric())
                && part
                    .bytes()
                    .last()
                    .is_some_and(|b| b.is_ascii_alphanumeric())
        })
}

/// Shell-style matching with `*` (any run) and `?` (one character), as pulp_container's
/// `includes`/`excludes` (Python's `fnmatch` without character classes).
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether a tag passes `includes` (none: every tag; digests in it do not name tags) and
/// then `excludes`.
pub fn tag_selected(tag: &str, includes: Option<&[String]>, excludes: Option<&[String]>) -> bool {
    let included = match includes {
        None => true,
        Some(list) => {
            let patterns: Vec<&String> =
                list.iter().filter(|p| !p.starts_with("sha256:")).collect();
            // A list holding only digests selects no tag.
            patterns.iter().any(|p| wildcard_match(p, tag))
        }
    };
    included
        && !excludes
            .unwrap_or_default()
            .iter()
            .any(|p| wildcard_match(p, tag))
}

/// A descriptor of a manifest (`mediaType`, `digest`, `size`, `platform`, `urls`).
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    /// Its media type.
    pub media_type: String,
    /// Its digest.
    pub digest: String,
    /// Its size.
    pub size: u64,
    /// The platform (index entries).
    pub platform: Value,
    /// Whether it names foreign URLs (a non-distributable layer, not fetched).
    pub foreign: bool,
}

/// What a manifest says, as far as the plugin reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedManifest {
    /// Its media type (the document's own `mediaType`, else the response's).
    pub media_type: String,
    /// `schemaVersion`.
    pub schema_version: i64,
    /// The config (image manifests).
    pub config: Option<Descriptor>,
    /// The layers (image manifests).
    pub layers: Vec<Descriptor>,
    /// The listed manifests (indexes).
    pub manifests: Vec<Descriptor>,
    /// OCI annotations (an object).
    pub annotations: Value,
}

/// Why a manifest cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ManifestError(pub String);

fn descriptor(value: &Value, what: &str) -> Result<Descriptor, ManifestError> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    let digest = text("digest")
        .filter(|d| is_sha256_digest(d))
        .ok_or_else(|| ManifestError(format!("{what} has no sha256 digest")))?;
    let media_type = text("mediaType").unwrap_or_default();
    let foreign = value
        .get("urls")
        .is_some_and(|u| u.as_array().is_some_and(|a| !a.is_empty()))
        || media_type.contains("foreign")
        || media_type.contains("nondistributable");
    Ok(Descriptor {
        media_type,
        digest,
        size: value.get("size").and_then(Value::as_u64).unwrap_or(0),
        platform: value.get("platform").cloned().unwrap_or(Value::Null),
        foreign,
    })
}

/// Reads a manifest's JSON. `served_type` is the `Content-Type` it came with (used when the
/// document does not name its own type, as OCI allows).
pub fn parse_manifest(
    bytes: &[u8],
    served_type: Option<&str>,
) -> Result<ParsedManifest, ManifestError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ManifestError(format!("the manifest is not JSON: {e}")))?;
    let own = value.get("mediaType").and_then(Value::as_str);
    let media_type = match (own, served_type) {
        (Some(own), _) => own.to_string(),
        (None, Some(served)) if MANIFEST_TYPES.contains(&served) => served.to_string(),
        // OCI documents may omit mediaType: an index has `manifests`, an image `config`.
        (None, _) if value.get("manifests").is_some() => OCI_INDEX.to_string(),
        (None, _) => OCI_MANIFEST.to_string(),
    };
    if !MANIFEST_TYPES.contains(&media_type.as_str()) {
        return Err(ManifestError(format!(
            "manifest type '{media_type}' is not supported"
        )));
    }
    let schema_version = value
        .get("schemaVersion")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if schema_version != 2 {
        return Err(ManifestError(format!(
            "schemaVersion {schema_version} is not supported"
        )));
    }
    let list = |key: &str| -> Result<Vec<Descriptor>, ManifestError> {
        match value.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(|i| descriptor(i, key)).collect(),
            Some(_) => Err(ManifestError(format!("'{key}' is not a list"))),
        }
    };
    let parsed = if is_index(&media_type) {
        ParsedManifest {
            media_type,
            schema_version,
            config: None,
            layers: Vec::new(),
            manifests: list("manifests")?,
            annotations: value
                .get("annotations")
                .cloned()
                .unwrap_or(Value::Object(Default::default())),
        }
    } else {
        let config = value
            .get("config")
            .ok_or_else(|| ManifestError("an image manifest has no config".into()))
            .and_then(|c| descriptor(c, "config"))?;
        ParsedManifest {
            media_type,
            schema_version,
            config: Some(config),
            layers: list("layers")?,
            manifests: Vec::new(),
            annotations: value
                .get("annotations")
                .cloned()
                .unwrap_or(Value::Object(Default::default())),
        }
    };
    Ok(parsed)
}

/// What the plugin keeps of an image's config blob.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageConfig {
    /// `architecture`.
    pub architecture: Option<String>,
    /// `os`.
    pub os: Option<String>,
    /// `config.Labels` (an object).
    pub labels: Value,
}

/// Reads a config blob (a JSON object; anything else gives an empty config).
pub fn parse_config(bytes: &[u8]) -> ImageConfig {
    let value: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    let labels = value
        .get("config")
        .and_then(|c| c.get("Labels"))
        .filter(|l| l.is_object())
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    ImageConfig {
        architecture: text("architecture"),
        os: text("os"),
        labels,
    }
}

/// pulp_container's `type` of an image manifest from its labels.
pub fn image_type(labels: &Value) -> &'static str {
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    if label("containers.bootc") == Some("1") || label("ostree.bootable").is_some() {
        "bootable"
    } else if label("org.flatpak.ref").is_some() {
        "flatpak"
    } else {
        "image"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_fnmatch_does() {
        assert!(wildcard_match("v1.*", "v1.2"));
        assert!(wildcard_match("v?", "v1"));
        assert!(!wildcard_match("v?", "v12"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        let inc = vec!["v1*".to_string()];
        let exc = vec!["*-rc".to_string()];
        assert!(tag_selected("v1.0", Some(&inc), Some(&exc)));
        assert!(!tag_selected("v1.0-rc", Some(&inc), Some(&exc)));
        assert!(!tag_selected("v2", Some(&inc), None));
        assert!(tag_selected("v2", None, None));
    }

    #[test]
    fn names_and_digests_are_checked() {
        assert!(is_tag_name("latest"));
        assert!(!is_tag_name("-x"));
        assert!(!is_tag_name(""));
        assert!(is_repository_name("library/busybox"));
        assert!(!is_repository_name("Library/x"));
        assert!(!is_repository_name("a//b"));
        assert!(is_sha256_digest(&digest_of(b"x")));
        assert!(!is_sha256_digest("sha256:ABC"));
    }

    #[test]
    fn a_manifest_without_a_type_or_with_a_bad_one_is_read_or_refused() {
        let oci = br#"{"schemaVersion":2,"config":{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]}"#;
        assert_eq!(
            parse_manifest(oci, None).map(|m| m.media_type),
            Ok(OCI_MANIFEST.to_string())
        );
        let bad = br#"{"schemaVersion":2,"mediaType":"text/plain"}"#;
        assert!(parse_manifest(bad, None).is_err());
        assert!(parse_manifest(b"{", None).is_err());
        let v1 = br#"{"schemaVersion":1}"#;
        assert!(parse_manifest(v1, Some(DOCKER_MANIFEST)).is_err());
    }
}
