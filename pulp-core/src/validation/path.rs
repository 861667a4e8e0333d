//! Relative paths given by users: normalized and confined below their root.

/// Why a relative path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelativePathError {
    /// Nothing was given.
    #[error("This field may not be blank.")]
    Empty,
    /// It starts at the root.
    #[error("Path '{0}' must be relative, not absolute.")]
    Absolute(String),
    /// It climbs out of its root.
    #[error("Path '{0}' must not contain '..' components.")]
    Traversal(String),
    /// It holds a character that paths may not hold.
    #[error("Path '{0}' contains a forbidden character (NUL, control character or backslash).")]
    ForbiddenCharacter(String),
    /// It names a directory (ends with `/`) or has an empty or `.` component.
    #[error("Path '{0}' is not a normalized file path (empty, '.' components or a trailing '/').")]
    NotNormalized(String),
}

/// Checks that `path` is a normalized relative file path: not empty, not absolute, no `..`,
/// `.` or empty components, no NUL/control characters, no backslash (which some clients
/// treat as a separator), no Windows drive prefix. Returns it unchanged when it is fine.
pub fn validate_relative_path(path: &str) -> Result<&str, RelativePathError> {
    if path.is_empty() {
        return Err(RelativePathError::Empty);
    }
    if path
        .chars()
        .any(|c| c == '\0' || c == '\\' || c.is_control())
    {
        return Err(RelativePathError::ForbiddenCharacter(printable(path)));
    }
    let drive =
        path.len() >= 2 && path.as_bytes()[1] == b':' && path.as_bytes()[0].is_ascii_alphabetic();
    if path.starts_with('/') || drive {
        return Err(RelativePathError::Absolute(path.to_string()));
    }
    if path.split('/').any(|part| part == "..") {
        return Err(RelativePathError::Traversal(path.to_string()));
    }
    if path.split('/').any(|part| part.is_empty() || part == ".") {
        return Err(RelativePathError::NotNormalized(path.to_string()));
    }
    Ok(path)
}

fn printable(path: &str) -> String {
    path.escape_debug().to_string()
}
