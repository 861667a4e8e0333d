//! Computing several digests of one stream in one pass, spread over two threads for big chunks.

use super::checksum::{ChecksumType, Digests};
use super::digester::Digester;

/// Chunks at least this large are hashed on two threads at once.
const PARALLEL_CHUNK: usize = 256 * 1024;

/// Feeds each chunk to every allowed digest; [`MultiHasher::finish`] gives the hex digests.
pub struct MultiHasher {
    /// Digests run on the calling thread.
    local: Vec<(ChecksumType, Digester)>,
    /// Digests run on a helper thread for big chunks (on the calling thread for small ones).
    helper: Vec<(ChecksumType, Digester)>,
    size: u64,
}

impl std::fmt::Debug for MultiHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiHasher")
            .field("size", &self.size)
            .finish()
    }
}

impl MultiHasher {
    /// A hasher of every type in `types`.
    pub fn new(types: &[ChecksumType]) -> Self {
        // Greedy split by cost so that both threads get about the same work.
        let mut sorted: Vec<ChecksumType> = types.to_vec();
        sorted.sort_by_key(|t| std::cmp::Reverse(t.cost()));
        let (mut local, mut helper) = (Vec::new(), Vec::new());
        let (mut local_cost, mut helper_cost) = (0, 0);
        for kind in sorted {
            if local_cost <= helper_cost {
                local_cost += kind.cost();
                local.push((kind, kind.hasher()));
            } else {
                helper_cost += kind.cost();
                helper.push((kind, kind.hasher()));
            }
        }
        Self {
            local,
            helper,
            size: 0,
        }
    }

    /// Hashes one chunk with every digest.
    pub fn update(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        if data.len() >= PARALLEL_CHUNK && !self.helper.is_empty() {
            let helper = &mut self.helper;
            std::thread::scope(|scope| {
                scope.spawn(|| feed(helper, data));
                feed(&mut self.local, data);
            });
        } else {
            feed(&mut self.local, data);
            feed(&mut self.helper, data);
        }
    }

    /// Whether big chunks are hashed on two threads (more than one digest of weight).
    pub fn is_parallel(&self) -> bool {
        !self.helper.is_empty()
    }

    /// Bytes hashed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hex digests of everything hashed.
    pub fn finish(self) -> Digests {
        self.local
            .into_iter()
            .chain(self.helper)
            .map(|(kind, hasher)| (kind, hasher.finish_hex()))
            .collect()
    }
}

fn feed(hashers: &mut [(ChecksumType, Digester)], data: &[u8]) {
    for (_, hasher) in hashers.iter_mut() {
        hasher.update(data);
    }
}
