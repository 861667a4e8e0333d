//! pulpcore's content-guard types and pulp-certguard's, declared as a plugin would declare
//! them ([`Registry::guard_type`]): `core/rbac`, `core/header`, `core/composite`,
//! `core/content_redirect`, `core/envvar_header` and `certguard/x509`. See
//! `docs/content-app.md` ("Content guards").

mod cert;
mod header;
mod rbac;
mod redirect;

use crate::access_policy::{AccessPolicy, Statement};
use crate::plugin::{Component, Registry};
use crate::rbac::{standard_roles, LockedRole};

pub use cert::X509CertGuard;
pub use header::{EnvVarHeaderContentGuard, HeaderContentGuard};
pub use rbac::{CompositeContentGuard, RbacContentGuard, DOWNLOAD_PERMISSION};
pub use redirect::ContentRedirectContentGuard;

/// Setting: the environment variables an `envvar_header` guard may name (pulpcore's
/// `ENVVAR_HEADER_CONTENT_GUARD_ALLOWED_VARS`).
pub const ENVVAR_ALLOWED_SETTING: &str = "envvar_header_content_guard_allowed_vars";

/// Pulp's policy of a guard viewset on model `core.<model>` (`download` for rbac guards).
fn guard_policy(app: &str, model: &str, creator_roles: &[&str], download: bool) -> AccessPolicy {
    let authenticated = &["authenticated"];
    let perm = |verb: &str| format!("{app}.{verb}_{model}");
    let mut statements = vec![
        Statement::allow(&["list"], authenticated),
        Statement::allow(&["create"], authenticated)
            .when(&format!("has_model_or_domain_perms:{}", perm("add"))),
        Statement::allow(&["retrieve", "my_permissions"], authenticated).when(&format!(
            "has_model_or_domain_or_obj_perms:{}",
            perm("view")
        )),
        Statement::allow(&["update", "partial_update"], authenticated).when(&format!(
            "has_model_or_domain_or_obj_perms:{}",
            perm("change")
        )),
        Statement::allow(&["destroy"], authenticated).when(&format!(
            "has_model_or_domain_or_obj_perms:{}",
            perm("delete")
        )),
        Statement::allow(&["list_roles", "add_role", "remove_role"], authenticated).when(&format!(
            "has_model_or_domain_or_obj_perms:{}",
            perm("manage_roles")
        )),
        Statement::allow(&["set_label", "unset_label"], authenticated).when(&format!(
            "has_model_or_domain_or_obj_perms:{}",
            perm("change")
        )),
    ];
    if download {
        statements.push(
            Statement::allow(&["download"], authenticated).when(&format!(
                "has_model_or_domain_or_obj_perms:{}",
                perm("download")
            )),
        );
    }
    let mut policy = AccessPolicy::new(statements).scoped();
    policy.creation_hooks.push(serde_json::json!({
        "function": "add_roles_for_object_creator",
        "parameters": {"roles": creator_roles},
    }));
    policy
}

/// Declares core's guard types, with their permissions, locked roles and access policies.
pub fn register_core(r: &mut Registry) {
    // An rbac guard has no fields of its own: its check asks who holds the permission.
    r.content_guard::<RbacContentGuard>()
        .guard_type::<HeaderContentGuard>()
        .guard_type::<CompositeContentGuard>()
        .guard_type::<ContentRedirectContentGuard>()
        .guard_type::<EnvVarHeaderContentGuard>();
    r.content_guard_check("core.rbac", rbac::RbacCheck::default());
    for (viewset, model, label) in [
        ("core/rbac", "rbaccontentguard", "RBAC content guard"),
        ("core/header", "headercontentguard", "header content guard"),
        (
            "core/composite",
            "compositecontentguard",
            "Composite content guard",
        ),
        (
            "core/content_redirect",
            "contentredirectcontentguard",
            "Redirect content guard",
        ),
        (
            "core/envvar_header",
            "envvarheadercontentguard",
            "env var header content guard",
        ),
    ] {
        let content_type = format!("core.{model}");
        let manage = format!("manage_roles_{model}");
        r.permission(
            &content_type,
            &manage,
            &format!("Can manage role assignments on {label}"),
        );
        let rbac = model == "rbaccontentguard";
        let owner = format!("{content_type}_owner");
        let downloader = format!("{content_type}_downloader");
        let mut creator_roles = vec![owner.as_str()];
        if rbac {
            r.permission(
                &content_type,
                "download_rbaccontentguard",
                "Can Download Content",
            );
            creator_roles.push(downloader.as_str());
            r.locked_role(LockedRole::new(&downloader, &[DOWNLOAD_PERMISSION]));
        }
        for role in standard_roles(&content_type, &[&format!("core.{manage}")]) {
            r.locked_role(role);
        }
        r.access_policy(
            &format!("contentguards/{viewset}"),
            guard_policy("core", model, &creator_roles, rbac),
        );
    }
}

/// Declares pulp-certguard: its component (what clients look for), its guard types and
/// their roles and policies.
pub fn register_certguard(r: &mut Registry) {
    r.component(Component::new(
        "certguard",
        "pulp-core",
        env!("CARGO_PKG_VERSION"),
        "pulp_certguard.app",
    ));
    r.guard_type::<X509CertGuard>();
    for (viewset, model) in [("certguard/x509", "x509certguard")] {
        let content_type = format!("certguard.{model}");
        let manage = format!("manage_roles_{model}");
        r.permission(
            &content_type,
            &manage,
            "Can manage role assignments on certguard",
        );
        for role in standard_roles(&content_type, &[&format!("certguard.{manage}")]) {
            r.locked_role(role);
        }
        let owner = format!("{content_type}_owner");
        r.access_policy(
            &format!("contentguards/{viewset}"),
            guard_policy("certguard", model, &[owner.as_str()], false),
        );
    }
}
