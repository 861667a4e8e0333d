//! Pulp's global access conditions (`has_model_perms:…`, `has_remote_param_…`,
//! `has_repository_…`…), each answered by one set-based permission query.

use serde_json::{Map, Value};

use crate::db::{Database, DbError, PulpId};
use crate::plugin::DetailType;
use crate::rbac::{has_perm, Level};

/// What a condition may look at: who asks, about which object, with which request fields.
#[derive(Debug, Clone, Copy)]
pub struct ConditionContext<'a> {
    /// The database holding roles.
    pub db: &'a Database,
    /// The user asking (not a superuser: superusers hold every permission).
    pub user: PulpId,
    /// The id of the object the request is about (for nested viewsets, the parent's: a
    /// repository version's repository, a group's users' group).
    pub object: Option<&'a str>,
    /// The request's fields (its JSON or form body), for the `…_param_…` conditions.
    pub params: &'a Map<String, Value>,
    /// The declared detail types (to find objects named by hrefs).
    pub details: &'a [DetailType],
}

/// How a condition's permission must be held, relative to its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Model,
    Object,
    ModelOrObject,
    Never,
}

fn scope_of(suffix: &str) -> Option<Scope> {
    Some(match suffix {
        "model_perms" | "model_or_domain_perms" => Scope::Model,
        "obj_perms" => Scope::Object,
        "model_or_obj_perms" | "model_or_domain_or_obj_perms" => Scope::ModelOrObject,
        // Domains are not built: nobody holds a permission through one.
        "domain_perms" => Scope::Never,
        _ => return None,
    })
}

/// Where a condition finds its object.
enum Target {
    /// The object of the request (or its parent).
    Request,
    /// The object named by one of these request fields (absent: the condition holds).
    Param(&'static [&'static str]),
    /// The `repository` of the object of the request (a repository version's, a
    /// publication's, a distribution's).
    RepositoryAttribute,
}

fn parse(name: &str) -> Option<(Target, Scope)> {
    let rest = name.strip_prefix("has_")?;
    for (prefix, target) in [
        ("remote_param_", Target::Param(&["remote"])),
        ("publication_param_", Target::Param(&["publication"])),
        ("upload_param_", Target::Param(&["upload"])),
        (
            "repo_or_repo_ver_param_",
            Target::Param(&["repository", "repository_version"]),
        ),
        ("repository_", Target::Request),
        ("repo_attr_", Target::RepositoryAttribute),
        ("group_", Target::Request),
    ] {
        if let Some(suffix) = rest.strip_prefix(prefix) {
            return Some((target, scope_of(suffix)?));
        }
    }
    if name == "has_required_repo_perms_on_upload" {
        return Some((Target::Param(&["repository"]), Scope::ModelOrObject));
    }
    Some((Target::Request, scope_of(rest)?))
}

/// Whether `condition` holds: `Some(true)`/`Some(false)`, or `None` for a condition this
/// server does not know (which counts against the request). A permission list separated
/// by commas holds when one of them does.
pub async fn evaluate(
    condition: &str,
    ctx: &ConditionContext<'_>,
) -> Result<Option<bool>, DbError> {
    let (name, argument) = condition.split_once(':').unwrap_or((condition, ""));
    let Some((target, scope)) = parse(name) else {
        return Ok(None);
    };
    let object: Option<String> = match target {
        Target::Request => ctx.object.map(str::to_string),
        Target::RepositoryAttribute => match ctx.object {
            Some(id) => repository_of(ctx.db, id).await?,
            None => None,
        },
        Target::Param(fields) => {
            let named = fields
                .iter()
                .find_map(|f| ctx.params.get(*f).and_then(Value::as_str));
            match named {
                // Nothing named, nothing to check (as in Pulp).
                None => return Ok(Some(true)),
                Some(href) => match object_id_of(ctx.details, href) {
                    Some(id) => Some(id),
                    // An href that names nothing is the serializer's to refuse (400).
                    None => return Ok(Some(true)),
                },
            }
        }
    };
    for permission in argument.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let level = match (scope, object.as_deref()) {
            (Scope::Never, _) => continue,
            (Scope::Model, _) | (Scope::ModelOrObject, None) => Level::Global,
            (Scope::Object, None) => continue,
            (Scope::Object, Some(id)) => Level::Object(id),
            (Scope::ModelOrObject, Some(id)) => Level::GlobalOrObject(id),
        };
        if has_perm(ctx.db, ctx.user, permission, level).await? {
            return Ok(Some(true));
        }
    }
    Ok(Some(false))
}

/// The id of the repository of object `id`: itself when it is a repository (the object of a
/// repository version's path is its repository), a publication's version's repository, a
/// distribution's repository. `None` when it has none.
async fn repository_of(db: &Database, id: &str) -> Result<Option<String>, DbError> {
    let Ok(id) = uuid::Uuid::parse_str(id).map(PulpId) else {
        return Ok(None);
    };
    let found: Option<PulpId> = crate::on_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT pulp_id FROM core_repository WHERE pulp_id = $1 \
             UNION ALL SELECT v.repository_id FROM core_publication p \
             JOIN core_repositoryversion v ON v.pulp_id = p.repository_version_id WHERE p.pulp_id = $1 \
             UNION ALL SELECT repository_id FROM core_distribution \
             WHERE pulp_id = $1 AND repository_id IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
    });
    Ok(found.map(|r| r.to_string()))
}

/// The id of the object an href names; a repository version's href names its repository.
fn object_id_of(details: &[DetailType], href: &str) -> Option<String> {
    let href = match href.find("/versions/") {
        Some(at) => &href[..at + 1],
        None => href,
    };
    crate::rbac::object_of_href(details, href).map(|(_, o)| o.object_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_names_parse_to_their_target_and_scope() {
        let scope = |n: &str| parse(n).map(|(_, s)| s);
        assert_eq!(scope("has_model_perms"), Some(Scope::Model));
        assert_eq!(scope("has_model_or_domain_perms"), Some(Scope::Model));
        assert_eq!(scope("has_obj_perms"), Some(Scope::Object));
        assert_eq!(
            scope("has_model_or_domain_or_obj_perms"),
            Some(Scope::ModelOrObject)
        );
        assert_eq!(scope("has_domain_perms"), Some(Scope::Never));
        assert_eq!(
            scope("has_remote_param_model_or_domain_or_obj_perms"),
            Some(Scope::ModelOrObject)
        );
        assert_eq!(scope("has_repository_obj_perms"), Some(Scope::Object));
        assert_eq!(
            scope("has_group_model_or_obj_perms"),
            Some(Scope::ModelOrObject)
        );
        assert_eq!(
            scope("has_upload_param_model_or_obj_perms"),
            Some(Scope::ModelOrObject)
        );
        assert_eq!(
            scope("has_required_repo_perms_on_upload"),
            Some(Scope::ModelOrObject)
        );
        assert_eq!(scope("has_repo_attr_obj_perms"), Some(Scope::Object));
        assert_eq!(
            scope("has_repo_attr_model_or_domain_or_obj_perms"),
            Some(Scope::ModelOrObject)
        );
        assert!(matches!(
            parse("has_repo_attr_model_or_obj_perms"),
            Some((Target::RepositoryAttribute, Scope::ModelOrObject))
        ));
        assert_eq!(scope("is_full_moon"), None);
        assert_eq!(scope("has_model_perms_please"), None);
    }
}
