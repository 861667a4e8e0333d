//! The default access policies, permissions and locked roles of the plugin's viewsets (the
//! shapes of pulp_container's: owners get `container.<model>_owner` on what they create).

use pulp_plugin_api::access_policy::{AccessPolicy, Statement};
use pulp_plugin_api::deps::serde_json;
use pulp_plugin_api::rbac::standard_roles;
use pulp_plugin_api::Registry;

const AUTHENTICATED: &[&str] = &["authenticated"];

fn perm(scope: &str, permission: &str) -> String {
    format!("has_{scope}_perms:container.{permission}")
}

fn owned(statements: Vec<Statement>, model: &str) -> AccessPolicy {
    let mut policy = AccessPolicy::new(statements).scoped();
    policy.creation_hooks.push(serde_json::json!({
        "function": "add_roles_for_object_creator",
        "parameters": {"roles": format!("container.{model}_owner")},
    }));
    policy
}

fn model_policy(model: &str) -> Vec<Statement> {
    let obj = |verb: &str| perm("model_or_domain_or_obj", &format!("{verb}_{model}"));
    vec![
        Statement::allow(&["list", "my_permissions"], AUTHENTICATED),
        Statement::allow(&["create"], AUTHENTICATED)
            .when(&perm("model_or_domain", &format!("add_{model}"))),
        Statement::allow(&["retrieve"], AUTHENTICATED).when(&obj("view")),
        Statement::allow(&["destroy"], AUTHENTICATED)
            .when(&obj("delete"))
            .when(&obj("view")),
        Statement::allow(
            &["update", "partial_update", "set_label", "unset_label"],
            AUTHENTICATED,
        )
        .when(&obj("change"))
        .when(&obj("view")),
        Statement::allow(&["list_roles", "add_role", "remove_role"], AUTHENTICATED)
            .when(&obj("manage_roles")),
    ]
}

/// `(viewset name, default policy)` of every viewset the plugin serves.
pub fn access_policies() -> Vec<(&'static str, AccessPolicy)> {
    let repository = |verb: &str| {
        perm(
            "model_or_domain_or_obj",
            &format!("{verb}_containerrepository"),
        )
    };
    let version = |verb: &str| {
        perm(
            "repository_model_or_domain_or_obj",
            &format!("{verb}_containerrepository"),
        )
    };
    let mut repositories = model_policy("containerrepository");
    repositories.push(
        Statement::allow(&["sync"], AUTHENTICATED)
            .when(&repository("sync"))
            .when(&repository("view")),
    );
    repositories.push(
        Statement::allow(
            &[
                "add",
                "remove",
                "tag",
                "untag",
                "copy_tags",
                "copy_manifests",
            ],
            AUTHENTICATED,
        )
        .when(&repository("modify_content"))
        .when(&repository("view")),
    );
    let content = || {
        AccessPolicy::new(vec![
            Statement::allow(&["list", "retrieve"], AUTHENTICATED),
            Statement::allow(&["set_label", "unset_label"], AUTHENTICATED)
                .when("has_model_or_domain_perms:core.manage_content_labels"),
        ])
        .scoped()
    };
    vec![
        (
            "repositories/container/container",
            owned(repositories, "containerrepository"),
        ),
        (
            "repositories/container/container/versions",
            AccessPolicy::new(vec![
                Statement::allow(&["list", "retrieve"], AUTHENTICATED).when(&version("view")),
                Statement::allow(&["destroy"], AUTHENTICATED)
                    .when(&version("delete"))
                    .when(&version("view")),
                Statement::allow(&["repair"], AUTHENTICATED)
                    .when(&version("sync"))
                    .when(&version("view")),
            ]),
        ),
        (
            "remotes/container/container",
            owned(model_policy("containerremote"), "containerremote"),
        ),
        (
            "distributions/container/container",
            owned(
                model_policy("containerdistribution"),
                "containerdistribution",
            ),
        ),
        ("content/container/blobs", content()),
        ("content/container/manifests", content()),
        ("content/container/tags", content()),
    ]
}

/// Declares the plugin's own permissions and locked roles.
pub fn register_roles(r: &mut Registry) {
    for (model, codename, name) in [
        (
            "containerrepository",
            "sync_containerrepository",
            "Can start a sync task",
        ),
        (
            "containerrepository",
            "modify_content_containerrepository",
            "Can modify content in a repository",
        ),
        (
            "containerrepository",
            "manage_roles_containerrepository",
            "Can manage roles on container repositories",
        ),
        (
            "containerremote",
            "manage_roles_containerremote",
            "Can manage roles on container remotes",
        ),
        (
            "containerdistribution",
            "manage_roles_containerdistribution",
            "Can manage roles on container distributions",
        ),
        (
            "containerdistribution",
            "pull_containerdistribution",
            "Can pull from a registry repo",
        ),
        (
            "containerdistribution",
            "push_containerdistribution",
            "Can push into the registry repo",
        ),
    ] {
        r.permission(&format!("container.{model}"), codename, name);
    }
    let mut roles = standard_roles(
        "container.containerrepository",
        &[
            "container.sync_containerrepository",
            "container.modify_content_containerrepository",
            "container.manage_roles_containerrepository",
        ],
    );
    roles.extend(standard_roles(
        "container.containerremote",
        &["container.manage_roles_containerremote"],
    ));
    roles.extend(standard_roles(
        "container.containerdistribution",
        &[
            "container.manage_roles_containerdistribution",
            "container.pull_containerdistribution",
            "container.push_containerdistribution",
        ],
    ));
    for role in roles {
        r.locked_role(role);
    }
}
