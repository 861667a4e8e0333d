//! `PULP_MANIFEST`: one `relative_path,sha256,size` line per file (pulp_file's format).
//! Blank lines and lines starting with `#` are ignored, as pulp_file does.

use pulp_plugin_api::validation::validate_relative_path;

/// One file of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path of the file, relative to the manifest.
    pub relative_path: String,
    /// Its sha256 (lower-case hex).
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{},{}", self.relative_path, self.digest, self.size)
    }
}

/// A line of a manifest that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("manifest line {line}: {message}")]
pub struct ManifestError {
    /// Its number (from 1).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses line `number` (from 1); `Ok(None)` for blank and comment lines.
pub fn parse_line(number: usize, line: &str) -> Result<Option<Entry>, ManifestError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let error = |message: String| ManifestError {
        line: number,
        message,
    };
    // The last two commas end the path, as pulp_file splits: a path may hold commas.
    let mut parts: Vec<&str> = line.rsplitn(3, ',').map(str::trim).collect();
    parts.reverse();
    let [relative_path, digest, size] = parts[..] else {
        return Err(error(
            "must be: <relative_path>,<digest>,<size>".to_string(),
        ));
    };
    let unquoted = unquote(relative_path);
    let relative_path = unquoted.as_str();
    validate_relative_path(relative_path)
        .map_err(|e| error(format!("relative path '{relative_path}': {e}")))?;
    let digest = digest.to_ascii_lowercase();
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(error(format!("'{digest}' is not a sha256 digest")));
    }
    let size = size
        .parse::<u64>()
        .map_err(|_| error(format!("'{size}' is not a size in bytes")))?;
    Ok(Some(Entry {
        relative_path: relative_path.to_string(),
        digest,
        size,
    }))
}

/// A path written as a CSV field (`"a,b.txt"`, `""` for a quote) without its quotes; any
/// other path as it is.
fn unquote(path: &str) -> String {
    match path
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .filter(|inner| !inner.replace("\"\"", "").contains('"'))
    {
        Some(inner) => inner.replace("\"\"", "\""),
        None => path.to_string(),
    }
}

/// Every entry of a manifest's text, or the first bad line.
pub fn parse(text: &str) -> Result<Vec<Entry>, ManifestError> {
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(entry) = parse_line(i + 1, line)? {
            entries.push(entry);
        }
    }
    Ok(entries)
}
