//! Distribution base paths: their shape, and that no two overlap (the content app finds a
//! distribution by the longest base path that is a prefix of the request).

use crate::db::{Database, PulpId};
use crate::models::DEFAULT_DOMAIN;
use crate::on_pool;
use crate::validation::{validate_relative_path, ValidationErrors};

/// Checks a base path's shape (relative, normalized, no `..`, no leading or trailing `/`,
/// no whitespace) and that it overlaps no other distribution's base path: neither one of
/// its prefixes (`a` for `a/b`) nor one below it (`a/b/c`) may be taken. `exclude` is the
/// distribution being updated. Errors are about the field `base_path`, with Pulp's
/// messages ("Overlaps with existing distribution '<name>'").
pub async fn check_base_path(
    db: &Database,
    base_path: &str,
    exclude: Option<PulpId>,
) -> Result<(), ValidationErrors> {
    validate_base_path(base_path)?;
    let prefixes = path_prefixes(base_path);
    let placeholders = (0..prefixes.len())
        .map(|i| format!("${}", i + 4))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT name FROM core_distribution WHERE pulp_domain = $1 AND pulp_id <> $2 \
         AND (substr(base_path, 1, {}) = $3 OR base_path IN ({placeholders})) \
         ORDER BY name LIMIT 1",
        base_path.chars().count() + 1
    );
    let nested = format!("{base_path}/");
    // A new distribution has no id: exclude one that cannot exist.
    let exclude = exclude.unwrap_or(PulpId(uuid::Uuid::nil()));
    let found: Result<Option<String>, sqlx::Error> = on_pool!(db, pool => {
        let mut query = sqlx::query_scalar(&sql)
            .bind(DEFAULT_DOMAIN)
            .bind(exclude)
            .bind(&nested);
        for prefix in &prefixes {
            query = query.bind(prefix);
        }
        query.fetch_optional(pool).await
    });
    match found {
        Ok(None) => Ok(()),
        Ok(Some(name)) => Err(ValidationErrors::field(
            "base_path",
            format!("Overlaps with existing distribution '{name}'"),
        )),
        Err(e) => Err(ValidationErrors::field(
            "base_path",
            format!("Could not check for overlapping distributions: {e}"),
        )),
    }
}

/// Checks a base path's shape only (see [`check_base_path`]).
pub fn validate_base_path(base_path: &str) -> Result<(), ValidationErrors> {
    if base_path.starts_with('/') {
        return Err(ValidationErrors::field(
            "base_path",
            "Relative path cannot begin with '/'",
        ));
    }
    if base_path.ends_with('/') {
        return Err(ValidationErrors::field(
            "base_path",
            "Relative path cannot end with '/'",
        ));
    }
    if base_path.chars().any(char::is_whitespace) {
        return Err(ValidationErrors::field(
            "base_path",
            "Base path cannot contain whitespace",
        ));
    }
    validate_relative_path(base_path)
        .map(|_| ())
        .map_err(|e| ValidationErrors::field("base_path", e.to_string()))
}

/// `a`, `a/b`, `a/b/c` for `a/b/c`.
pub(crate) fn path_prefixes(path: &str) -> Vec<String> {
    path.match_indices('/')
        .map(|(i, _)| path[..i].to_string())
        .chain(std::iter::once(path.to_string()))
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_shapes() {
        assert_eq!(path_prefixes("a/b/c"), ["a", "a/b", "a/b/c"]);
        assert!(validate_base_path("a/b").is_ok());
        for bad in ["", "/a", "a/", "a/../b", "a//b", "a b", "./a"] {
            assert!(validate_base_path(bad).is_err(), "{bad}");
        }
    }
}
