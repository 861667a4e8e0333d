//! [`RepositoryType`]: a repository detail type with its version hooks.

use std::future::Future;

use futures::future::BoxFuture;

use super::{NewVersion, RepositoryVersion, VersionError};
use crate::app::App;
use crate::models::{Detail, RepositoryKind};

/// A repository type, with the hooks pulp-core calls around every new version.
///
/// The hooks are `async fn`s in an implementation:
/// `async fn finalize_new_version(version: &mut NewVersion) -> Result<(), VersionError>`.
pub trait RepositoryType: Detail<Kind = RepositoryKind> {
    /// Content types (`pulp_type`s) its versions may hold; empty: any.
    const CONTENT_TYPES: &'static [&'static str] = &[];

    /// Whether the REST API offers the generic `POST {repository_href}modify/` for this type
    /// (default yes). A type whose plugin owns how content enters and leaves its versions
    /// (container repositories: `add/`, `remove/`, `tag/`, …) says `false`.
    const GENERIC_MODIFY: bool = true;

    /// Runs inside the new-version scope, after the changes and before the version becomes
    /// visible: enforce the type's invariants here (remove units a newer one replaces, add
    /// what added units need, refuse with [`VersionError::Refused`]). An error discards the
    /// whole version.
    fn finalize_new_version(
        version: &mut NewVersion,
    ) -> impl Future<Output = Result<(), VersionError>> + Send {
        let _ = version;
        async { Ok(()) }
    }

    /// Runs after a new version became visible (e.g. to publish it automatically).
    fn on_new_version(
        app: &App,
        version: &RepositoryVersion,
    ) -> impl Future<Output = Result<(), VersionError>> + Send {
        let _ = (app, version);
        async { Ok(()) }
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
        // The hooks are stored as function pointers: each boxes its type's future.
        fn finalize<T: RepositoryType>(
            version: &mut NewVersion,
        ) -> BoxFuture<'_, Result<(), VersionError>> {
            Box::pin(T::finalize_new_version(version))
        }
        fn on_new<'a, T: RepositoryType>(
            app: &'a App,
            version: &'a RepositoryVersion,
        ) -> BoxFuture<'a, Result<(), VersionError>> {
            Box::pin(T::on_new_version(app, version))
        }
        Self {
            finalize_new_version: finalize::<T>,
            on_new_version: on_new::<T>,
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
