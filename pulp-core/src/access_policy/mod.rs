//! Access policies (Pulp's RBAC statements): each viewset — a group of API operations such as
//! `repositories/file/file` — has a policy of [`Statement`]s saying which principals may
//! perform which actions under which conditions. pulp-core and plugins declare default
//! policies ([`Registry::access_policy`](crate::plugin::Registry::access_policy)); they are
//! stored at migration time (`core_accesspolicy`), served and customized at
//! `/pulp/api/v3/access_policies/`, and checked on every API request of a user who is not a
//! superuser (superusers hold every permission, so no policy can lock the administrator out).
//!
//! What is evaluated: principals `*`, `authenticated`, `anonymous`, `admin`/`staff`
//! (superusers), `id:<user id>`, `user:<username>`, `group:<name>`; actions by name, `*`,
//! `<safe_methods>`, `<method:…>`; Pulp's permission conditions ([`conditions`]: model,
//! object, request-parameter and parent-object checks, answered from the roles of
//! [`crate::rbac`]). Lists of scoped viewsets are filtered to the objects the user may view.
//! A condition or `condition_expression` this server does not know counts against the
//! request (an allow statement does not apply, a deny statement does).

pub mod conditions;
mod defaults;
mod policy;
mod store;

pub use defaults::core_access_policies;
pub use policy::{parse_statements, AccessPolicy, Effect, Requester, Statement};
pub use store::{find, get, get_many, reset, seed, StoredPolicy};
pub(crate) use store::{write, PolicyDocuments};

/// The viewset and action of the API operation `operation_id`: the longest of `viewsets`
/// whose name (with `/` and `-` written `_`) starts the id, and the rest of the id as the
/// action, in Django REST framework's words (`read` is `retrieve`, `delete` is `destroy`).
pub fn operation_action<'a>(
    operation_id: &str,
    viewsets: impl IntoIterator<Item = &'a str>,
) -> Option<(String, String)> {
    let mut best: Option<(&str, &str)> = None;
    for viewset in viewsets {
        let prefix = viewset.replace(['/', '-'], "_");
        let Some(rest) = operation_id
            .strip_prefix(prefix.as_str())
            .and_then(|r| r.strip_prefix('_'))
        else {
            continue;
        };
        if rest.is_empty() || best.is_some_and(|(b, _)| b.len() >= viewset.len()) {
            continue;
        }
        best = Some((viewset, rest));
    }
    best.map(|(viewset, rest)| {
        let action = match rest {
            "read" => "retrieve",
            "delete" => "destroy",
            other => other,
        };
        (viewset.to_string(), action.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_map_to_the_longest_viewset_and_drf_action_names() {
        let viewsets = [
            "repositories",
            "repositories/file/file",
            "repositories/file/file/versions",
            "task-groups",
            "orphans/cleanup",
        ];
        let of = |id: &str| operation_action(id, viewsets.iter().copied());
        assert_eq!(
            of("repositories_file_file_sync"),
            Some(("repositories/file/file".into(), "sync".into()))
        );
        assert_eq!(
            of("repositories_file_file_versions_read"),
            Some(("repositories/file/file/versions".into(), "retrieve".into()))
        );
        assert_eq!(
            of("repositories_list"),
            Some(("repositories".into(), "list".into()))
        );
        assert_eq!(
            of("task_groups_delete"),
            Some(("task-groups".into(), "destroy".into()))
        );
        assert_eq!(
            of("orphans_cleanup_cleanup"),
            Some(("orphans/cleanup".into(), "cleanup".into()))
        );
        assert_eq!(of("status_read"), None);
    }
}
