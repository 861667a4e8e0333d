//! The default access policies of pulp-file's viewsets, as pulp_file ships them.

use pulp_plugin_api::access_policy::{AccessPolicy, Statement};

const AUTHENTICATED: &[&str] = &["authenticated"];

/// `list` for every user (scoped), `create` with the model permission, everything else with
/// the object's `view_`/`change_`/`delete_` permission of `model`.
fn model_policy(model: &str, extra: Vec<Statement>) -> AccessPolicy {
    let perm = |verb: &str| format!("has_model_or_domain_or_obj_perms:file.{verb}_{model}");
    let mut statements = vec![
        Statement::allow(&["list"], AUTHENTICATED),
        Statement::allow(&["create"], AUTHENTICATED)
            .when(&format!("has_model_or_domain_perms:file.add_{model}")),
        Statement::allow(&["retrieve", "my_permissions"], AUTHENTICATED).when(&perm("view")),
        Statement::allow(
            &["update", "partial_update", "set_label", "unset_label"],
            AUTHENTICATED,
        )
        .when(&perm("change")),
        Statement::allow(&["destroy"], AUTHENTICATED).when(&perm("delete")),
    ];
    statements.extend(extra);
    AccessPolicy::new(statements).scoped()
}

/// `(viewset name, default policy)` of every viewset pulp-file serves.
pub fn access_policies() -> Vec<(&'static str, AccessPolicy)> {
    let repository_perm =
        |verb: &str| format!("has_model_or_domain_or_obj_perms:file.{verb}_filerepository");
    let version_perm =
        |perm: &str| format!("has_repository_model_or_domain_or_obj_perms:file.{perm}");
    vec![
        (
            "repositories/file/file",
            model_policy(
                "filerepository",
                vec![
                    Statement::allow(&["modify"], AUTHENTICATED).when(&repository_perm("modify")),
                    Statement::allow(&["sync"], AUTHENTICATED)
                        .when(&repository_perm("sync"))
                        .when("has_remote_param_model_or_domain_or_obj_perms:file.view_fileremote"),
                ],
            ),
        ),
        (
            "repositories/file/file/versions",
            AccessPolicy::new(vec![
                Statement::allow(&["list", "retrieve"], AUTHENTICATED)
                    .when(&version_perm("view_filerepository")),
                Statement::allow(&["destroy"], AUTHENTICATED)
                    .when(&version_perm("delete_filerepository_version")),
                Statement::allow(&["repair"], AUTHENTICATED)
                    .when(&version_perm("repair_filerepository")),
            ]),
        ),
        ("remotes/file/file", model_policy("fileremote", Vec::new())),
        (
            "publications/file/file",
            AccessPolicy::new(vec![
                Statement::allow(&["list"], AUTHENTICATED),
                Statement::allow(&["create"], AUTHENTICATED)
                    .when("has_model_or_domain_perms:file.add_filepublication")
                    .when("has_repo_attr_model_or_domain_or_obj_perms:file.view_filerepository"),
                Statement::allow(&["retrieve"], AUTHENTICATED)
                    .when("has_model_or_domain_or_obj_perms:file.view_filepublication"),
                Statement::allow(&["destroy"], AUTHENTICATED)
                    .when("has_model_or_domain_or_obj_perms:file.delete_filepublication"),
            ])
            .scoped(),
        ),
        (
            "distributions/file/file",
            model_policy("filedistribution", Vec::new()),
        ),
        (
            "content/file/files",
            AccessPolicy::new(vec![
                Statement::allow(&["list", "retrieve"], AUTHENTICATED),
                Statement::allow(&["create", "upload"], AUTHENTICATED)
                    .when("has_required_repo_perms_on_upload:file.modify_filerepository"),
                Statement::allow(&["set_label", "unset_label"], AUTHENTICATED)
                    .when("has_model_or_domain_perms:file.change_filecontent"),
            ])
            .scoped(),
        ),
    ]
}
