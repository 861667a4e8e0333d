//! The default access policies of pulp-core's own viewsets, modelled on pulpcore's.

use super::{AccessPolicy, Statement};

const AUTHENTICATED: &[&str] = &["authenticated"];
const ADMIN: &[&str] = &["admin"];

/// Lists open to every user (scoped to what each may see), nothing else but to superusers.
fn list_only() -> AccessPolicy {
    AccessPolicy::new(vec![Statement::allow(&["list"], AUTHENTICATED)]).scoped()
}

/// Everything to superusers only.
fn admin_only() -> AccessPolicy {
    AccessPolicy::new(vec![Statement::allow(&["*"], ADMIN)])
}

/// `add_roles_for_object_creator` with `role`.
fn creator_gets(policy: AccessPolicy, role: &str) -> AccessPolicy {
    let mut policy = policy;
    policy.creation_hooks.push(serde_json::json!({
        "function": "add_roles_for_object_creator",
        "parameters": {"roles": role},
    }));
    policy
}

/// `(viewset name, default policy)` of every viewset pulp-core serves.
pub fn core_access_policies() -> Vec<(String, AccessPolicy)> {
    let tasks = AccessPolicy::new(vec![
        Statement::allow(&["list"], AUTHENTICATED),
        Statement::allow(&["retrieve", "my_permissions"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.view_task"),
        Statement::allow(&["profile_artifacts"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.view_task_profile_artifacts"),
        Statement::allow(&["destroy"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.delete_task"),
        Statement::allow(&["update", "partial_update", "cancel"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.change_task"),
        // Purging removes only the user's own tasks they may delete.
        Statement::allow(&["purge"], AUTHENTICATED),
        Statement::allow(&["list_roles", "add_role", "remove_role"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.manage_roles_task"),
    ])
    .scoped();
    let uploads = AccessPolicy::new(vec![
        Statement::allow(&["list"], AUTHENTICATED),
        Statement::allow(&["create"], AUTHENTICATED)
            .when("has_model_or_domain_perms:core.add_upload"),
        Statement::allow(&["retrieve", "my_permissions"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.view_upload"),
        Statement::allow(&["update", "partial_update", "commit"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.change_upload"),
        Statement::allow(&["destroy"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.delete_upload"),
        Statement::allow(&["list_roles", "add_role", "remove_role"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.manage_roles_upload"),
    ])
    .scoped();
    let groups = AccessPolicy::new(vec![
        Statement::allow(&["list"], AUTHENTICATED),
        Statement::allow(&["create"], AUTHENTICATED).when("has_model_perms:core.add_group"),
        Statement::allow(&["retrieve", "my_permissions"], AUTHENTICATED)
            .when("has_model_or_obj_perms:core.view_group"),
        Statement::allow(&["update", "partial_update"], AUTHENTICATED)
            .when("has_model_or_obj_perms:core.change_group"),
        Statement::allow(&["destroy"], AUTHENTICATED)
            .when("has_model_or_obj_perms:core.delete_group"),
        Statement::allow(&["list_roles", "add_role", "remove_role"], AUTHENTICATED)
            .when("has_model_or_obj_perms:core.manage_roles_group"),
    ])
    .scoped();
    let group_users = AccessPolicy::new(vec![
        Statement::allow(&["list"], AUTHENTICATED)
            .when("has_group_model_or_obj_perms:core.view_group"),
        Statement::allow(&["create", "destroy"], AUTHENTICATED)
            .when("has_group_model_or_obj_perms:core.change_group"),
    ]);
    let upstream_pulps = AccessPolicy::new(vec![
        Statement::allow(&["list", "my_permissions"], AUTHENTICATED),
        Statement::allow(&["create"], AUTHENTICATED)
            .when("has_model_or_domain_perms:core.add_upstreampulp"),
        Statement::allow(&["retrieve"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.view_upstreampulp"),
        Statement::allow(&["destroy"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.delete_upstreampulp"),
        Statement::allow(&["update", "partial_update"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.change_upstreampulp"),
        Statement::allow(&["replicate"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.replicate_upstreampulp"),
        Statement::allow(&["list_roles", "add_role", "remove_role"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.manage_roles_upstreampulp"),
    ])
    .scoped();
    let mut policies = vec![
        ("tasks", creator_gets(tasks, "core.task_owner")),
        (
            "task-groups",
            AccessPolicy::new(vec![Statement::allow(
                &["list", "retrieve", "partial_update"],
                AUTHENTICATED,
            )])
            .scoped(),
        ),
        (
            "workers",
            AccessPolicy::new(vec![Statement::allow(&["list", "retrieve"], AUTHENTICATED)]),
        ),
        ("uploads", creator_gets(uploads, "core.upload_owner")),
        (
            "upstream-pulps",
            creator_gets(upstream_pulps, "core.upstreampulp_owner"),
        ),
        (
            "artifacts",
            AccessPolicy::new(vec![Statement::allow(
                &["create", "list", "retrieve", "destroy"],
                ADMIN,
            )]),
        ),
        ("groups", creator_gets(groups, "core.group_owner")),
        ("groups/users", group_users),
        // Users, roles and role assignments are the administrators' (pulpcore declares no
        // policy for them: superusers only).
        ("users", admin_only()),
        ("users/roles", admin_only()),
        ("groups/roles", admin_only()),
        ("roles", admin_only()),
        (
            "login",
            AccessPolicy::new(vec![Statement::allow(&["*"], AUTHENTICATED)]),
        ),
        (
            "signing-services",
            AccessPolicy::new(vec![Statement::allow(&["list", "retrieve"], AUTHENTICATED)]),
        ),
        ("orphans/cleanup", admin_only()),
        ("orphans", admin_only()),
        ("access_policies", admin_only()),
        // Schedules come from settings and plugins; webhooks hold signing secrets.
        ("task-schedules", admin_only()),
        ("webhooks", admin_only()),
    ];
    for generic in [
        "content",
        "repositories",
        "repository_versions",
        "remotes",
        "publications",
        "distributions",
        "contentguards",
    ] {
        policies.push((generic, list_only()));
    }
    // Exports and imports read and write the server's disks: superusers only.
    for viewset in [
        "exporters/core/pulp",
        "exporters/core/pulp/exports",
        "exporters/core/filesystem",
        "exporters/core/filesystem/exports",
        "importers/core/pulp",
        "importers/core/pulp/imports",
        "pulp_import_check",
    ] {
        policies.push((viewset, admin_only()));
    }
    policies
        .into_iter()
        .map(|(name, policy)| (name.to_string(), policy))
        .collect()
}
