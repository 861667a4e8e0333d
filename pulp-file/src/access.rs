//! The default access policies, permissions and locked roles of pulp-file's viewsets, as
//! pulp_file ships them.

use pulp_plugin_api::access_policy::{AccessPolicy, Statement};
use pulp_plugin_api::rbac::{standard_roles, LockedRole};
use pulp_plugin_api::Registry;

const AUTHENTICATED: &[&str] = &["authenticated"];

fn perm(scope: &str, permission: &str) -> String {
    format!("has_{scope}_perms:file.{permission}")
}

/// A policy whose objects go to their creator with the `<model>_owner` role.
fn owned(statements: Vec<Statement>, model: &str) -> AccessPolicy {
    let mut policy = AccessPolicy::new(statements).scoped();
    policy.creation_hooks.push(serde_json::json!({
        "function": "add_roles_for_object_creator",
        "parameters": {"roles": format!("file.{model}_owner")},
    }));
    policy
}

/// `list`/`my_permissions` for every user (lists scoped), `create` with the model
/// permission (and `create_extra` conditions), the rest with the object's permissions.
fn model_policy(model: &str, create_extra: &[&str], change_extra: &[&str]) -> Vec<Statement> {
    let obj = |verb: &str| perm("model_or_domain_or_obj", &format!("{verb}_{model}"));
    let mut create = Statement::allow(&["create"], AUTHENTICATED)
        .when(&perm("model_or_domain", &format!("add_{model}")));
    for extra in create_extra {
        create = create.when(extra);
    }
    let mut change = Statement::allow(
        &["update", "partial_update", "set_label", "unset_label"],
        AUTHENTICATED,
    )
    .when(&obj("change"))
    .when(&obj("view"));
    for extra in change_extra {
        change = change.when(extra);
    }
    vec![
        Statement::allow(&["list", "my_permissions"], AUTHENTICATED),
        create,
        Statement::allow(&["retrieve"], AUTHENTICATED).when(&obj("view")),
        Statement::allow(&["destroy"], AUTHENTICATED)
            .when(&obj("delete"))
            .when(&obj("view")),
        change,
        Statement::allow(&["list_roles", "add_role", "remove_role"], AUTHENTICATED)
            .when(&obj("manage_roles")),
    ]
}

/// `(viewset name, default policy)` of every viewset pulp-file serves.
pub fn access_policies() -> Vec<(&'static str, AccessPolicy)> {
    let remote_param = "has_remote_param_model_or_domain_or_obj_perms:file.view_fileremote";
    let repo_param =
        "has_repo_or_repo_ver_param_model_or_domain_or_obj_perms:file.view_filerepository";
    let publication_param =
        "has_publication_param_model_or_domain_or_obj_perms:file.view_filepublication";
    let repository = |verb: &str| perm("model_or_domain_or_obj", &format!("{verb}_filerepository"));
    let version = |verb: &str| {
        perm(
            "repository_model_or_domain_or_obj",
            &format!("{verb}_filerepository"),
        )
    };
    let mut repositories = model_policy("filerepository", &[remote_param], &[remote_param]);
    repositories.extend([
        Statement::allow(&["sync"], AUTHENTICATED)
            .when(&repository("sync"))
            .when(remote_param)
            .when(&repository("view")),
        Statement::allow(&["modify"], AUTHENTICATED)
            .when(&repository("modify"))
            .when(&repository("view")),
    ]);
    let publications = vec![
        Statement::allow(&["list", "my_permissions"], AUTHENTICATED),
        Statement::allow(&["create"], AUTHENTICATED)
            .when("has_model_or_domain_perms:file.add_filepublication")
            .when(repo_param),
        Statement::allow(&["retrieve"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:file.view_filepublication"),
        Statement::allow(&["destroy"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:file.delete_filepublication")
            .when("has_model_or_domain_or_obj_perms:file.view_filepublication"),
        Statement::allow(&["list_roles", "add_role", "remove_role"], AUTHENTICATED)
            .when("has_model_or_domain_or_obj_perms:file.manage_roles_filepublication"),
    ];
    vec![
        (
            "repositories/file/file",
            owned(repositories, "filerepository"),
        ),
        (
            "repositories/file/file/versions",
            AccessPolicy::new(vec![
                Statement::allow(&["list", "retrieve"], AUTHENTICATED).when(&version("view")),
                Statement::allow(&["destroy"], AUTHENTICATED)
                    .when(&version("delete"))
                    .when(&version("view")),
                Statement::allow(&["repair"], AUTHENTICATED)
                    .when(&version("repair"))
                    .when(&version("view")),
            ]),
        ),
        (
            "remotes/file/file",
            owned(model_policy("fileremote", &[], &[]), "fileremote"),
        ),
        (
            "publications/file/file",
            owned(publications, "filepublication"),
        ),
        (
            "distributions/file/file",
            owned(
                model_policy(
                    "filedistribution",
                    &[repo_param, publication_param],
                    &[repo_param, publication_param],
                ),
                "filedistribution",
            ),
        ),
        (
            "content/file/files",
            AccessPolicy::new(vec![
                Statement::allow(&["list", "retrieve"], AUTHENTICATED),
                Statement::allow(&["create"], AUTHENTICATED)
                    .when("has_required_repo_perms_on_upload:file.modify_filerepository")
                    .when("has_required_repo_perms_on_upload:file.view_filerepository")
                    .when("has_upload_param_model_or_domain_or_obj_perms:core.change_upload"),
                Statement::allow(&["set_label", "unset_label"], AUTHENTICATED)
                    .when("has_model_or_domain_perms:core.manage_content_labels"),
                Statement::allow(&["upload"], AUTHENTICATED)
                    .when("has_model_or_domain_perms:file.upload_files"),
            ])
            .scoped(),
        ),
    ]
}

/// Declares pulp_file's own permissions and locked roles.
pub fn register_roles(r: &mut Registry) {
    for (model, codename, name) in [
        (
            "filerepository",
            "sync_filerepository",
            "Can start a sync task",
        ),
        (
            "filerepository",
            "modify_filerepository",
            "Can modify content of the repository",
        ),
        (
            "filerepository",
            "manage_roles_filerepository",
            "Can manage roles on file repositories",
        ),
        (
            "filerepository",
            "repair_filerepository",
            "Can repair repository versions",
        ),
        (
            "fileremote",
            "manage_roles_fileremote",
            "Can manage roles on file remotes",
        ),
        (
            "filepublication",
            "manage_roles_filepublication",
            "Can manage roles on file publications",
        ),
        (
            "filedistribution",
            "manage_roles_filedistribution",
            "Can manage roles on file distributions",
        ),
        (
            "filecontent",
            "upload_files",
            "Can upload File content using synchronous API.",
        ),
    ] {
        r.permission(&format!("file.{model}"), codename, name);
    }
    let mut roles = standard_roles(
        "file.filerepository",
        &[
            "file.modify_filerepository",
            "file.sync_filerepository",
            "file.manage_roles_filerepository",
            "file.repair_filerepository",
        ],
    );
    roles.extend(standard_roles(
        "file.fileremote",
        &["file.manage_roles_fileremote"],
    ));
    roles.extend(
        standard_roles(
            "file.filepublication",
            &["file.manage_roles_filepublication"],
        )
        .into_iter()
        .map(|mut role| {
            // A publication cannot be changed, so its owner has no change permission.
            role.permissions
                .retain(|p| p != "file.change_filepublication");
            role
        }),
    );
    roles.extend(standard_roles(
        "file.filedistribution",
        &["file.manage_roles_filedistribution"],
    ));
    roles.push(LockedRole::new(
        "file.file_uploader",
        &["file.upload_files"],
    ));
    for role in roles {
        r.locked_role(role);
    }
}
