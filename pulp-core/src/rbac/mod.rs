//! Role-based access control as Pulp has it: permissions on models (`<app>.<verb>_<model>`),
//! roles holding permissions (locked ones declared by core and plugins), role assignments of
//! users and groups (global or on one object), set-based permission checks and scoping
//! clauses, and the creation hooks that give creators their roles. No HTTP here.

mod assign;
mod check;
mod declare;
pub mod groups;
mod hooks;
pub mod roles;
mod seed;
mod types;

pub use assign::{
    assign, ensure, forget_missing, forget_object, forget_objects_of, get as get_assignment,
    get_many as get_assignments, object_roles, remove as remove_assignment, remove_on, Assignment,
    ObjectRef, Principal,
};
pub use check::{
    group_names, has_perm, my_permissions, permission_ids, permissions_of_type, scope_clause, Level,
};
pub use declare::{
    core_locked_roles, core_permissions, standard_roles, LockedRole, PermissionDecl,
};
pub use groups::Group;
pub use hooks::{acting_as, acting_user, object_created, run_creation_hooks};
pub use roles::{Role, RoleChanges};
pub use seed::seed;
pub use types::{object_of_href, object_types as types_of, ObjectType};

use crate::db::DbError;

/// What can go wrong with roles, groups and assignments.
#[derive(Debug, thiserror::Error)]
pub enum RbacError {
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// No such role, group or assignment.
    #[error("not found")]
    NotFound,
    /// A locked role cannot be changed.
    #[error("The role is locked.")]
    Locked,
    /// Bad input, by field.
    #[error("{field}: {messages:?}")]
    Invalid {
        /// The field at fault (`non_field_errors` for the whole).
        field: &'static str,
        /// What is wrong.
        messages: Vec<String>,
    },
}

impl RbacError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        RbacError::Invalid {
            field,
            messages: vec![message.into()],
        }
    }
}

impl From<sqlx::Error> for RbacError {
    fn from(e: sqlx::Error) -> Self {
        RbacError::Database(e.into())
    }
}
