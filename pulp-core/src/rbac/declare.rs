//! Declarations of permissions and locked roles, by pulp-core and by plugins.

/// A permission on a model: `<app_label>.<codename>` (`file.sync_filerepository`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionDecl {
    /// The application (`core`, `file`).
    pub app_label: String,
    /// The codename (`view_filerepository`).
    pub codename: String,
    /// The model it is about (`filerepository`).
    pub model: String,
    /// What it allows, in words.
    pub name: String,
}

impl PermissionDecl {
    /// A permission `app_label.codename` on `model`.
    pub fn new(app_label: &str, codename: &str, model: &str, name: &str) -> Self {
        Self {
            app_label: app_label.into(),
            codename: codename.into(),
            model: model.into(),
            name: name.into(),
        }
    }

    /// Django's default `view_`, `add_`, `change_`, `delete_` permissions of a model named
    /// `app_label.model` (a PRN model such as `file.filerepository`).
    pub fn defaults_of(content_type: &str) -> Vec<Self> {
        let Some((app, model)) = content_type.split_once('.') else {
            return Vec::new();
        };
        ["view", "add", "change", "delete"]
            .iter()
            .map(|verb| {
                Self::new(
                    app,
                    &format!("{verb}_{model}"),
                    model,
                    &format!("Can {verb} {model}"),
                )
            })
            .collect()
    }

    /// `app_label.codename`.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.app_label, self.codename)
    }
}

/// A role declared in code: created at migration time, brought back to its declared
/// permissions at each migration, and refused any change through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedRole {
    /// Its name (`file.filerepository_owner`).
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Its permissions, `app_label.codename` each.
    pub permissions: Vec<String>,
}

impl LockedRole {
    /// A locked role holding `permissions`.
    pub fn new(name: &str, permissions: &[&str]) -> Self {
        Self {
            name: name.into(),
            description: None,
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
        }
    }

    /// The role, described.
    pub fn described(mut self, description: &str) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// pulp-core's own permissions (besides the defaults of each detail type).
pub fn core_permissions() -> Vec<PermissionDecl> {
    let mut all = Vec::new();
    for model in [
        "core.task",
        "core.taskgroup",
        "core.upload",
        "core.group",
        "core.user",
        "core.role",
        "core.accesspolicy",
        "core.artifact",
        "core.content",
        "core.upstreampulp",
    ] {
        all.extend(PermissionDecl::defaults_of(model));
    }
    for (codename, model, name) in [
        (
            "manage_roles_task",
            "task",
            "Can manage role assignments on task",
        ),
        (
            "view_task_profile_artifacts",
            "task",
            "Can view task profile artifacts",
        ),
        (
            "manage_roles_upload",
            "upload",
            "Can manage role assignments on upload",
        ),
        (
            "manage_roles_group",
            "group",
            "Can manage role assignments on group",
        ),
        (
            "manage_content_labels",
            "content",
            "Can manage content labels",
        ),
        (
            "replicate_upstreampulp",
            "upstreampulp",
            "Can start a replication task",
        ),
        (
            "manage_roles_upstreampulp",
            "upstreampulp",
            "Can manage roles on upstream pulps",
        ),
    ] {
        all.push(PermissionDecl::new("core", codename, model, name));
    }
    all
}

/// pulp-core's locked roles, as pulpcore declares them.
pub fn core_locked_roles() -> Vec<LockedRole> {
    vec![
        LockedRole::new(
            "core.task_owner",
            &[
                "core.view_task",
                "core.view_task_profile_artifacts",
                "core.change_task",
                "core.delete_task",
                "core.manage_roles_task",
            ],
        )
        .described("Allow all actions on a task."),
        LockedRole::new("core.task_viewer", &["core.view_task"]),
        LockedRole::new("core.task_user_dispatcher", &["core.add_task"]),
        LockedRole::new("core.upload_creator", &["core.add_upload"]),
        LockedRole::new(
            "core.upload_owner",
            &[
                "core.view_upload",
                "core.change_upload",
                "core.delete_upload",
                "core.manage_roles_upload",
            ],
        ),
        LockedRole::new("core.group_creator", &["core.add_group"]),
        LockedRole::new(
            "core.group_owner",
            &[
                "core.view_group",
                "core.change_group",
                "core.delete_group",
                "core.manage_roles_group",
            ],
        ),
        LockedRole::new("core.group_viewer", &["core.view_group"]),
        LockedRole::new("core.content_labeler", &["core.manage_content_labels"]),
        LockedRole::new("core.upstreampulp_creator", &["core.add_upstreampulp"]),
        LockedRole::new(
            "core.upstreampulp_owner",
            &[
                "core.view_upstreampulp",
                "core.change_upstreampulp",
                "core.delete_upstreampulp",
                "core.replicate_upstreampulp",
                "core.manage_roles_upstreampulp",
            ],
        ),
        LockedRole::new("core.upstreampulp_viewer", &["core.view_upstreampulp"]),
        LockedRole::new(
            "core.upstreampulp_user",
            &["core.view_upstreampulp", "core.replicate_upstreampulp"],
        ),
    ]
}

/// The usual creator / owner / viewer roles of a plugin model (`file.filerepository`):
/// `<model>_creator` may add, `<model>_owner` holds the view/change/delete permissions and
/// `extra_owner` ones (`sync_…`, `manage_roles_…`), `<model>_viewer` may view.
pub fn standard_roles(content_type: &str, extra_owner: &[&str]) -> Vec<LockedRole> {
    let Some((app, model)) = content_type.split_once('.') else {
        return Vec::new();
    };
    let perm = |verb: &str| format!("{app}.{verb}_{model}");
    let mut owner: Vec<String> = ["view", "change", "delete"]
        .iter()
        .map(|v| perm(v))
        .collect();
    owner.extend(extra_owner.iter().map(|p| p.to_string()));
    vec![
        LockedRole {
            name: format!("{content_type}_creator"),
            description: None,
            permissions: vec![perm("add")],
        },
        LockedRole {
            name: format!("{content_type}_owner"),
            description: None,
            permissions: owner,
        },
        LockedRole {
            name: format!("{content_type}_viewer"),
            description: None,
            permissions: vec![perm("view")],
        },
    ]
}
