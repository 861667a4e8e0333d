//! Checksum algorithms and the allowed set (Pulp's `ALLOWED_CONTENT_CHECKSUMS`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::digester::Digester;
use super::StorageError;

/// A checksum algorithm Pulp knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChecksumType {
    /// MD5 (insecure; off by default).
    Md5,
    /// SHA-1 (insecure; off by default).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256: always on, artifacts are addressed by it.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl ChecksumType {
    /// Every algorithm, weakest first.
    pub const ALL: [ChecksumType; 6] = [
        ChecksumType::Md5,
        ChecksumType::Sha1,
        ChecksumType::Sha224,
        ChecksumType::Sha256,
        ChecksumType::Sha384,
        ChecksumType::Sha512,
    ];

    /// Pulp's name of the algorithm (also the artifact field name).
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumType::Md5 => "md5",
            ChecksumType::Sha1 => "sha1",
            ChecksumType::Sha224 => "sha224",
            ChecksumType::Sha256 => "sha256",
            ChecksumType::Sha384 => "sha384",
            ChecksumType::Sha512 => "sha512",
        }
    }

    /// Length of the hex digest.
    pub fn hex_len(self) -> usize {
        match self {
            ChecksumType::Md5 => 32,
            ChecksumType::Sha1 => 40,
            ChecksumType::Sha224 => 56,
            ChecksumType::Sha256 => 64,
            ChecksumType::Sha384 => 96,
            ChecksumType::Sha512 => 128,
        }
    }

    /// Relative CPU cost per byte (used to spread digests over threads).
    pub(crate) fn cost(self) -> u32 {
        match self {
            ChecksumType::Sha1 | ChecksumType::Sha224 | ChecksumType::Sha256 => 2,
            ChecksumType::Md5 => 3,
            ChecksumType::Sha384 | ChecksumType::Sha512 => 4,
        }
    }

    pub(crate) fn hasher(self) -> Digester {
        Digester::new(self)
    }
}

impl fmt::Display for ChecksumType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not a checksum algorithm Pulp knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown checksum '{0}'; expected one of md5, sha1, sha224, sha256, sha384, sha512")]
pub struct UnknownChecksum(pub String);

impl FromStr for ChecksumType {
    type Err = UnknownChecksum;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChecksumType::ALL
            .into_iter()
            .find(|c| c.as_str() == s.to_ascii_lowercase())
            .ok_or_else(|| UnknownChecksum(s.to_string()))
    }
}

/// The checksums this installation computes and accepts; always contains sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedChecksums(Vec<ChecksumType>);

impl AllowedChecksums {
    /// The allowed set from a list; sha256 is added when missing.
    pub fn new(types: impl IntoIterator<Item = ChecksumType>) -> Self {
        let mut list: Vec<ChecksumType> = types.into_iter().collect();
        if !list.contains(&ChecksumType::Sha256) {
            list.push(ChecksumType::Sha256);
        }
        list.sort();
        list.dedup();
        Self(list)
    }

    /// Pulp's default: sha224, sha256, sha384, sha512.
    pub fn pulp_default() -> Self {
        Self::new([
            ChecksumType::Sha224,
            ChecksumType::Sha256,
            ChecksumType::Sha384,
            ChecksumType::Sha512,
        ])
    }

    /// The allowed types, weakest first.
    pub fn types(&self) -> &[ChecksumType] {
        &self.0
    }

    /// Whether `kind` may be used.
    pub fn allows(&self, kind: ChecksumType) -> bool {
        self.0.contains(&kind)
    }

    /// Refuses a disallowed algorithm with a clear error (Pulp's `pulp_hashlib.new`).
    pub fn check(&self, kind: ChecksumType) -> Result<(), StorageError> {
        if self.allows(kind) {
            Ok(())
        } else {
            Err(StorageError::DisallowedChecksum {
                checksum: kind,
                allowed: self
                    .0
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }

    /// A hasher of one algorithm, refused when it is not allowed (Pulp's `pulp_hashlib.new`).
    pub fn new_hasher(&self, name: &str) -> Result<Digester, StorageError> {
        let kind = name
            .parse::<ChecksumType>()
            .map_err(|e| StorageError::UnknownChecksum(e.0))?;
        self.check(kind)?;
        Ok(kind.hasher())
    }
}

/// Hex digests by algorithm.
pub type Digests = BTreeMap<ChecksumType, String>;
