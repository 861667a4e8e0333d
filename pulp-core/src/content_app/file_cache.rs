//! Recently resolved files: `(distribution, relative path)` → artifact, with the bytes of
//! small files, kept for the same short TTL as the distribution snapshot. A hit costs no
//! query and no read (artifacts never change: only which one a path names can).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use std::sync::Arc;

use super::respond::Prepared;
use crate::db::PulpId;

/// Files up to this size have their bytes kept.
pub const CACHED_BYTES_LIMIT: u64 = 64 * 1024;
/// Entries kept at most (the cache is emptied when full: it refills with what is asked).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug)]
struct Entry {
    at: Instant,
    file: Arc<Prepared>,
}

/// The cache (disabled when its TTL is zero).
#[derive(Debug)]
pub struct FileCache {
    ttl: Duration,
    entries: RwLock<HashMap<PulpId, HashMap<String, Entry>>>,
}

impl FileCache {
    /// A cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// Whether the cache is in use.
    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The fresh entry of `path` in `distribution`.
    pub fn get(&self, distribution: PulpId, path: &str) -> Option<Arc<Prepared>> {
        if !self.enabled() {
            return None;
        }
        let entries = self.entries.read().ok()?;
        let entry = entries.get(&distribution)?.get(path)?;
        (entry.at.elapsed() < self.ttl).then(|| entry.file.clone())
    }

    /// Remembers what `path` in `distribution` resolved to.
    pub fn put(&self, distribution: PulpId, path: &str, file: Arc<Prepared>) {
        if !self.enabled() {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        let count: usize = entries.values().map(HashMap::len).sum();
        if count >= MAX_ENTRIES {
            entries.clear();
        }
        entries.entry(distribution).or_default().insert(
            path.to_string(),
            Entry {
                at: Instant::now(),
                file,
            },
        );
    }

    /// Forgets everything.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}
