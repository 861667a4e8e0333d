//! Who is acting (the user of a request, or the user who dispatched a task) and the creation
//! hooks of access policies, run for that user when an object is created.

use std::future::Future;

use serde_json::Value;

use super::{assign, ObjectRef, Principal, RbacError};
use crate::db::{Database, PulpId};

tokio::task_local! {
    static ACTING_USER: Option<PulpId>;
}

/// Runs `work` on behalf of `user`: objects it creates (and tasks it dispatches) are theirs.
pub async fn acting_as<F: Future>(user: Option<PulpId>, work: F) -> F::Output {
    ACTING_USER.scope(user, work).await
}

/// The user on whose behalf the current work runs, if any.
pub fn acting_user() -> Option<PulpId> {
    ACTING_USER.try_with(|u| *u).ok().flatten()
}

fn names(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Runs `hooks` (an access policy's `creation_hooks`) for `object`, created by `creator`:
/// `add_roles_for_object_creator` assigns `roles` to the creator on the object,
/// `add_roles_for_users` / `add_roles_for_groups` to the named `users` / `groups`. Unknown
/// hooks, users and groups are skipped with a warning.
pub async fn run_creation_hooks(
    db: &Database,
    hooks: &[Value],
    creator: Option<PulpId>,
    object: &ObjectRef,
) -> Result<(), RbacError> {
    for hook in hooks {
        let function = hook
            .get("function")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let parameters = hook.get("parameters");
        let roles = names(parameters.and_then(|p| p.get("roles")));
        let mut principals = Vec::new();
        match function {
            "add_roles_for_object_creator" => principals.extend(creator.map(Principal::User)),
            "add_roles_for_users" => {
                for username in names(parameters.and_then(|p| p.get("users"))) {
                    match crate::auth::Users::new(db).stored_any(&username).await {
                        Ok(Some(user)) => principals.push(Principal::User(user)),
                        _ => tracing::warn!(%username, "creation hook names an unknown user"),
                    }
                }
            }
            "add_roles_for_groups" => {
                for name in names(parameters.and_then(|p| p.get("groups"))) {
                    match super::groups::by_name(db, &name).await? {
                        Some(group) => principals.push(Principal::Group(group.id)),
                        None => {
                            tracing::warn!(group = %name, "creation hook names an unknown group")
                        }
                    }
                }
            }
            other => {
                tracing::warn!(hook = %other, "unknown creation hook skipped");
                continue;
            }
        }
        for who in principals {
            for role in &roles {
                assign::ensure(db, who, role, Some(object.clone())).await?;
            }
        }
    }
    Ok(())
}

/// Runs the stored policy's creation hooks of `viewset` for `object`, created by the acting
/// user (nothing when nobody is acting: objects made by the server itself).
pub async fn object_created(
    db: &Database,
    viewset: &str,
    object: &ObjectRef,
) -> Result<(), RbacError> {
    let Some(user) = acting_user() else {
        return Ok(());
    };
    let Some(policy) = crate::access_policy::find(db, viewset).await? else {
        return Ok(());
    };
    run_creation_hooks(db, &policy.policy().creation_hooks, Some(user), object).await
}
