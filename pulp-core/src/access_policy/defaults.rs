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

/// `(viewset name, default policy)` of every viewset pulp-core serves.
pub fn core_access_policies() -> Vec<(String, AccessPolicy)> {
    let tasks = AccessPolicy::new(vec![
        Statement::allow(&["list"], AUTHENTICATED),
        Statement::allow(&["retrieve", "my_permissions"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.view_task"),
        Statement::allow(&["destroy"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.delete_task"),
        Statement::allow(&["partial_update", "cancel"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.change_task"),
        Statement::allow(&["purge"], AUTHENTICATED)
            .when("has_model_or_domain_perms:core.delete_task"),
    ])
    .scoped();
    let uploads = AccessPolicy::new(vec![
        Statement::allow(&["list"], AUTHENTICATED),
        Statement::allow(&["create"], AUTHENTICATED)
            .when("has_model_or_domain_perms:core.add_upload"),
        Statement::allow(&["retrieve"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.view_upload"),
        Statement::allow(&["update", "commit"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.change_upload"),
        Statement::allow(&["destroy"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:core.delete_upload"),
    ])
    .scoped();
    let artifacts = AccessPolicy::new(vec![
        Statement::allow(&["list"], AUTHENTICATED),
        Statement::allow(&["retrieve"], AUTHENTICATED)
            .when("has_model_or_domain_perms:core.view_artifact"),
        Statement::allow(&["create", "destroy"], ADMIN),
    ])
    .scoped();
    let mut policies = vec![
        ("tasks", tasks),
        (
            "task-groups",
            AccessPolicy::new(vec![
                Statement::allow(&["list"], AUTHENTICATED),
                Statement::allow(&["retrieve"], AUTHENTICATED)
                    .when("has_model_or_domain_or_obj_perms:core.view_taskgroup"),
            ])
            .scoped(),
        ),
        (
            "workers",
            AccessPolicy::new(vec![Statement::allow(&["list", "retrieve"], AUTHENTICATED)]),
        ),
        ("uploads", uploads),
        ("artifacts", artifacts),
        ("orphans/cleanup", admin_only()),
        ("orphans", admin_only()),
        ("access_policies", admin_only()),
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
