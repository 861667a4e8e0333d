//! One running digest of any checksum algorithm Pulp knows.
//!
//! SHA-256, SHA-384 and SHA-512 use `ring` (BoringSSL's assembly, with SHA-NI and AVX2 where
//! the CPU has them; its SHA-512 is ~15 % faster than the `sha2` crate's, and SHA-384/512 are
//! most of the CPU an immediate sync spends); SHA-224, SHA-1 and MD5, which `ring` does not
//! offer, use the RustCrypto crates.

use sha2::Digest;

use super::checksum::ChecksumType;

/// A running digest of one algorithm: feed it with [`Digester::update`], read it with
/// [`Digester::finish_hex`].
#[derive(Clone)]
pub struct Digester(Inner);

#[derive(Clone)]
enum Inner {
    Ring(ring::digest::Context),
    Sha224(sha2::Sha224),
    Sha1(sha1::Sha1),
    Md5(md5::Md5),
}

impl Digester {
    /// A fresh digest of `kind`.
    pub fn new(kind: ChecksumType) -> Self {
        Self(match kind {
            ChecksumType::Md5 => Inner::Md5(md5::Md5::new()),
            ChecksumType::Sha1 => Inner::Sha1(sha1::Sha1::new()),
            ChecksumType::Sha224 => Inner::Sha224(sha2::Sha224::new()),
            ChecksumType::Sha256 => Inner::Ring(ring::digest::Context::new(&ring::digest::SHA256)),
            ChecksumType::Sha384 => Inner::Ring(ring::digest::Context::new(&ring::digest::SHA384)),
            ChecksumType::Sha512 => Inner::Ring(ring::digest::Context::new(&ring::digest::SHA512)),
        })
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            Inner::Ring(context) => context.update(data),
            Inner::Sha224(hasher) => hasher.update(data),
            Inner::Sha1(hasher) => hasher.update(data),
            Inner::Md5(hasher) => hasher.update(data),
        }
    }

    /// The digest of everything fed, as lowercase hex.
    pub fn finish_hex(self) -> String {
        match self.0 {
            Inner::Ring(context) => hex::encode(context.finish()),
            Inner::Sha224(hasher) => hex::encode(hasher.finalize()),
            Inner::Sha1(hasher) => hex::encode(hasher.finalize()),
            Inner::Md5(hasher) => hex::encode(hasher.finalize()),
        }
    }
}

impl std::fmt::Debug for Digester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.0 {
            Inner::Ring(context) => {
                let algorithm = context.algorithm();
                if algorithm == &ring::digest::SHA256 {
                    "sha256"
                } else if algorithm == &ring::digest::SHA384 {
                    "sha384"
                } else {
                    "sha512"
                }
            }
            Inner::Sha224(_) => "sha224",
            Inner::Sha1(_) => "sha1",
            Inner::Md5(_) => "md5",
        };
        f.debug_tuple("Digester").field(&kind).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published digests of "abc" (FIPS 180-4 examples, RFC 1321, RFC 3174).
    #[test]
    fn every_algorithm_gives_the_published_digest_of_abc() {
        let expected = [
            (ChecksumType::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (
                ChecksumType::Sha1,
                "a9993e364706816aba3e25717850c26c9cd0d89d",
            ),
            (
                ChecksumType::Sha224,
                "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            ),
            (
                ChecksumType::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                ChecksumType::Sha384,
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
                 8086072ba1e7cc2358baeca134c825a7",
            ),
            (
                ChecksumType::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ];
        for (kind, hex) in expected {
            // Fed in two pieces: the running state must carry across updates.
            let mut digester = Digester::new(kind);
            digester.update(b"a");
            digester.update(b"bc");
            let digest = digester.finish_hex();
            assert_eq!(digest, hex, "{kind}");
            assert_eq!(digest.len(), kind.hex_len(), "{kind}");
        }
    }
}
