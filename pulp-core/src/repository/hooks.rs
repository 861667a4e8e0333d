//! [`RepositoryType`]: a repository detail type with its version hooks.

use futures::future::BoxFuture;

use super::{NewVersion, RepositoryVersion, VersionError};
use crate::app::App;
use crate::models::{Detail, RepositoryKind};

/// A repository type, with the hooks pulp-core calls around every new version.
pub trait RepositoryType: Detail<Kind = RepositoryKind> {
    /// Content types (`pulp_type`s) its versions may hold; empty: any.
    const CONTENT_TYPES: &'static [&'static str] = &[];

    /// Runs inside the new-version scope, after the changes and before the version becomes
    /// visible: enforce the type's invariants here (remove units a newer one replaces, add
    /// what added units need, refuse with [`VersionError::Refused`]). An error discards the
    /// whole version.
    fn finalize_new_version(version: &mut NewVersion) -> BoxFuture<'_, Result<(), VersionError>> {
        let _ = version;
        Box::pin(async { Ok(()) })
    }

    /// Runs after a new version became visible (e.g. to publish it automatically).
    fn on_new_version<'a>(
        app: &'a App,
        version: &'a RepositoryVersion,
    ) -> BoxFuture<'a, Result<(), VersionError>> {
        let _ = (app, version);
        Box::pin(async { Ok(()) })
    }
}

/// `finalize_new_version` as a function pointer.
pub type FinalizeHook = for<'a> fn(&'a mut NewVersion) -> BoxFuture<'a, Result<(), VersionError>>;
/// `on_new_version` as a function pointer.
pub type OnNewVersionHook =
    for<'a> fn(&'a App, &'a RepositoryVersion) -> BoxFuture<'a, Result<(), VersionError>>;

/// The hooks of one repository type, as registered.
#[derive(Debug, Clone, Copy)]
pub struct RepositoryHooks {
    /// See [`RepositoryType::finalize_new_version`].
    pub finalize_new_version: FinalizeHook,
    /// See [`RepositoryType::on_new_version`].
    pub on_new_version: OnNewVersionHook,
    /// See [`RepositoryType::CONTENT_TYPES`].
    pub content_types: &'static [&'static str],
}

impl RepositoryHooks {
    /// The hooks of `T`.
    pub fn of<T: RepositoryType>() -> Self {
        Self {
            finalize_new_version: T::finalize_new_version,
            on_new_version: T::on_new_version,
            content_types: T::CONTENT_TYPES,
        }
    }

    /// No hooks (a repository type nobody registered).
    pub fn none() -> Self {
        fn finalize(_: &mut NewVersion) -> BoxFuture<'_, Result<(), VersionError>> {
            Box::pin(async { Ok(()) })
        }
        fn on_new<'a>(
            _: &'a App,
            _: &'a RepositoryVersion,
        ) -> BoxFuture<'a, Result<(), VersionError>> {
            Box::pin(async { Ok(()) })
        }
        Self {
            finalize_new_version: finalize,
            on_new_version: on_new,
            content_types: &[],
        }
    }
}
