//! The export's files on disk: one tar, or the tar split into chunks of `chunk_size` bytes
//! (`….tar.0000`, `.0001`, …), each with its checksum in the `-toc.json` beside them.
//!
//! Checksums are crc32 written as pulpcore writes them (lower-case hex without leading
//! zeros); tables of contents of older pulpcore releases use sha256, which is read too.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::ImportExportError;

/// The checksum type of the tables of contents this server writes.
pub const TOC_CHECKSUM: &str = "crc32";

/// A running checksum of one of the types tables of contents use.
enum TocHasher {
    Crc32(crc32fast::Hasher),
    Sha256(Box<sha2::Sha256>),
}

impl TocHasher {
    fn new(kind: &str) -> Result<Self, ImportExportError> {
        match kind {
            "crc32" => Ok(TocHasher::Crc32(crc32fast::Hasher::new())),
            "sha256" => Ok(TocHasher::Sha256(Box::default())),
            other => Err(ImportExportError::Toc(format!(
                "unknown checksum_type '{other}'"
            ))),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            TocHasher::Crc32(h) => h.update(data),
            TocHasher::Sha256(h) => h.update(data),
        }
    }

    fn finish(self) -> String {
        match self {
            // pulpcore writes `hex(crc)[2:]`: no leading zeros.
            TocHasher::Crc32(h) => format!("{:x}", h.finalize()),
            TocHasher::Sha256(h) => hex::encode(h.finalize()),
        }
    }
}

/// The checksum of a whole file, as a table of contents of type `kind` holds it.
pub(crate) fn file_checksum(path: &Path, kind: &str) -> Result<String, ImportExportError> {
    let mut hasher = TocHasher::new(kind)?;
    let mut file =
        File::open(path).map_err(ImportExportError::io(format!("opening {}", path.display())))?;
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(ImportExportError::io(format!("reading {}", path.display())))?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buffer[..n]);
    }
}

/// The sha256 of a file (what exports record for their table of contents).
pub(crate) fn file_sha256(path: &Path) -> Result<String, ImportExportError> {
    file_checksum(path, "sha256")
}

/// Writes the tar: into `<base>` when `chunk_size` is 0, else into `<base>.0000`, `.0001`, …
/// of `chunk_size` bytes each, checksumming every file as it is written.
pub struct ChunkedWriter {
    base: PathBuf,
    chunk_size: u64,
    current: Option<(File, PathBuf, TocHasher, u64)>,
    next_index: usize,
    written: BTreeMap<PathBuf, String>,
}

impl ChunkedWriter {
    /// A writer of `base` (`…/export-<id>-<time>.tar`).
    pub fn new(base: PathBuf, chunk_size: u64) -> Self {
        Self {
            base,
            chunk_size,
            current: None,
            next_index: 0,
            written: BTreeMap::new(),
        }
    }

    fn open_next(&mut self) -> std::io::Result<()> {
        let path = if self.chunk_size == 0 {
            self.base.clone()
        } else {
            let mut name = self.base.clone().into_os_string();
            name.push(format!(".{:04}", self.next_index));
            PathBuf::from(name)
        };
        self.next_index += 1;
        let file = File::create(&path)?;
        let hasher = TocHasher::new(TOC_CHECKSUM).map_err(std::io::Error::other)?;
        self.current = Some((file, path, hasher, 0));
        Ok(())
    }

    fn close_current(&mut self) -> std::io::Result<()> {
        if let Some((mut file, path, hasher, _)) = self.current.take() {
            file.flush()?;
            file.sync_all()?;
            self.written.insert(path, hasher.finish());
        }
        Ok(())
    }

    /// Closes the last file; returns each file written with its checksum.
    pub fn finish(mut self) -> std::io::Result<BTreeMap<PathBuf, String>> {
        if self.current.is_none() && self.written.is_empty() {
            self.open_next()?;
        }
        self.close_current()?;
        Ok(std::mem::take(&mut self.written))
    }

    /// Every file this writer has created so far (to remove them after a failure).
    pub fn created_paths(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.written.keys().cloned().collect();
        if let Some((_, path, _, _)) = &self.current {
            out.push(path.clone());
        }
        out
    }
}

impl Write for ChunkedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let full = matches!(&self.current, Some((_, _, _, n)) if self.chunk_size > 0 && *n >= self.chunk_size);
        if full {
            self.close_current()?;
        }
        if self.current.is_none() {
            self.open_next()?;
        }
        let chunk_size = self.chunk_size;
        let Some((file, _, hasher, n)) = self.current.as_mut() else {
            return Err(std::io::Error::other("no open chunk"));
        };
        let room = if chunk_size == 0 {
            data.len()
        } else {
            (chunk_size - *n).min(data.len() as u64) as usize
        };
        let written = file.write(&data[..room])?;
        hasher.update(&data[..written]);
        *n += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.current.as_mut() {
            Some((file, _, _, _)) => file.flush(),
            None => Ok(()),
        }
    }
}

/// A `-toc.json`: the export's files (name → checksum) and how they were written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableOfContents {
    /// `checksum_type`, `chunk_size` and the `meta` given to the export.
    pub meta: serde_json::Map<String, serde_json::Value>,
    /// File name (no directory) → checksum.
    pub files: BTreeMap<String, String>,
}

impl TableOfContents {
    /// Reads and parses a table of contents.
    pub fn read(path: &Path) -> Result<Self, ImportExportError> {
        let text = std::fs::read(path)
            .map_err(ImportExportError::io(format!("reading {}", path.display())))?;
        let value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| ImportExportError::Toc(format!("not JSON: {e}")))?;
        if value.get("files").is_none() || value.get("meta").is_none() {
            return Err(ImportExportError::Toc(
                "Missing 'files' or 'meta' keys in table-of-contents!".into(),
            ));
        }
        serde_json::from_value(value).map_err(|e| ImportExportError::Toc(e.to_string()))
    }

    /// The checksum type (`crc32`; sha256 when absent, as in older exports).
    pub fn checksum_type(&self) -> &str {
        self.meta
            .get("checksum_type")
            .and_then(|v| v.as_str())
            .unwrap_or("sha256")
    }

    /// The chunk size, 0 for an unchunked export.
    pub fn chunk_size(&self) -> Result<u64, ImportExportError> {
        match self.meta.get("chunk_size") {
            None | Some(serde_json::Value::Null) => Ok(0),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| ImportExportError::Toc(format!("chunk_size {v} is not a number"))),
        }
    }

    /// The paths of the files, in the order they are read (sorted by name, as pulpcore does).
    pub fn chunk_paths(&self, dir: &Path) -> Vec<PathBuf> {
        self.files.keys().map(|name| dir.join(name)).collect()
    }

    /// Checks that every file exists beside the table of contents and has its checksum.
    pub fn validate(&self, dir: &Path) -> Result<(), ImportExportError> {
        if self.files.is_empty() {
            return Err(ImportExportError::Toc("it names no file".into()));
        }
        if self.files.len() > 1 && self.chunk_size()? == 0 {
            return Err(ImportExportError::Toc(
                "chunk_size must exist and be non-zero if more than one chunk exists".into(),
            ));
        }
        for name in self.files.keys() {
            if name.contains('/') || name.contains('\\') || name == ".." {
                return Err(ImportExportError::Toc(format!(
                    "'{name}' is not a file name"
                )));
            }
        }
        let missing: Vec<String> = self
            .chunk_paths(dir)
            .into_iter()
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if !missing.is_empty() {
            return Err(ImportExportError::MissingChunks(missing));
        }
        let kind = self.checksum_type().to_string();
        let mut errors = Vec::new();
        for (name, expected) in &self.files {
            let actual = file_checksum(&dir.join(name), &kind)?;
            if !actual.eq_ignore_ascii_case(expected.trim_start_matches('0'))
                && !actual.eq_ignore_ascii_case(expected)
            {
                errors.push(format!(
                    "File {name} expected checksum : {expected}, computed checksum : {actual}"
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ImportExportError::ChecksumMismatch(errors))
        }
    }
}

/// The chunks of an export read as one file (seekable, so a tar reader can skip the
/// artifacts' bytes when it only wants the JSON files).
pub struct ChunkedReader {
    chunks: Vec<(File, u64)>,
    starts: Vec<u64>,
    total: u64,
    position: u64,
}

impl ChunkedReader {
    /// Opens the files, in order.
    pub fn open(paths: &[PathBuf]) -> Result<Self, ImportExportError> {
        let mut chunks = Vec::with_capacity(paths.len());
        let mut starts = Vec::with_capacity(paths.len());
        let mut total = 0u64;
        for path in paths {
            let file = File::open(path)
                .map_err(ImportExportError::io(format!("opening {}", path.display())))?;
            let len = file
                .metadata()
                .map_err(ImportExportError::io(format!("reading {}", path.display())))?
                .len();
            starts.push(total);
            total += len;
            chunks.push((file, len));
        }
        Ok(Self {
            chunks,
            starts,
            total,
            position: 0,
        })
    }
}

impl Read for ChunkedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.position < self.total {
            let index = match self.starts.binary_search(&self.position) {
                Ok(i) => {
                    // Several empty chunks may start here: take the last one starting here.
                    let mut i = i;
                    while i + 1 < self.starts.len() && self.starts[i + 1] == self.position {
                        i += 1;
                    }
                    i
                }
                Err(i) => i - 1,
            };
            let (file, len) = &mut self.chunks[index];
            let offset = self.position - self.starts[index];
            if offset >= *len {
                self.position = self.starts[index] + *len;
                continue;
            }
            file.seek(SeekFrom::Start(offset))?;
            let want = ((*len - offset) as usize).min(buf.len());
            let n = file.read(&mut buf[..want])?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("chunk {index} is shorter than it was"),
                ));
            }
            self.position += n as u64;
            return Ok(n);
        }
        Ok(0)
    }
}

impl Seek for ChunkedReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => n as i128,
            SeekFrom::End(n) => self.total as i128 + n as i128,
            SeekFrom::Current(n) => self.position as i128 + n as i128,
        };
        if target < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        }
        self.position = target as u64;
        Ok(self.position)
    }
}
