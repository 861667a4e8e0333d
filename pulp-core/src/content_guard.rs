//! Content guards: a plugin declares how guards of its type decide on a request.
//!
//! A declaration the [`Registry`](crate::plugin::Registry) holds, written against the `http`
//! crate's request head rather than the content app: the content app evaluates it.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use http::request::Parts;

use crate::app::App;
use crate::models::ContentGuard;

/// A guard's refusal (the content app answers 403 with the reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GuardDenied(pub String);

/// Decides whether a request may read from a distribution protected by a content guard of
/// one type. Registered with [`Registry::content_guard_check`](crate::plugin::Registry::content_guard_check)
/// under the guard's `pulp_type`; a guard whose type has no check denies every request.
/// Implement it with `async fn check(&self, app: &App, request: &Parts, guard: &ContentGuard)`,
/// or register a plain `Fn(&Parts, &ContentGuard) -> Result<(), GuardDenied>`.
pub trait ContentGuardCheck: Send + Sync + 'static {
    /// `Ok(())` lets the request through; `Err` answers 403 with the reason.
    fn check(
        &self,
        app: &App,
        request: &Parts,
        guard: &ContentGuard,
    ) -> impl Future<Output = Result<(), GuardDenied>> + Send;
}

impl<F> ContentGuardCheck for F
where
    F: Fn(&Parts, &ContentGuard) -> Result<(), GuardDenied> + Send + Sync + 'static,
{
    fn check(
        &self,
        _app: &App,
        request: &Parts,
        guard: &ContentGuard,
    ) -> impl Future<Output = Result<(), GuardDenied>> + Send {
        std::future::ready(self(request, guard))
    }
}

/// [`ContentGuardCheck`] behind a pointer: the registry keeps checks of many types.
trait DynGuardCheck: Send + Sync {
    fn check<'a>(
        &'a self,
        app: &'a App,
        request: &'a Parts,
        guard: &'a ContentGuard,
    ) -> BoxFuture<'a, Result<(), GuardDenied>>;
}

impl<C: ContentGuardCheck> DynGuardCheck for C {
    fn check<'a>(
        &'a self,
        app: &'a App,
        request: &'a Parts,
        guard: &'a ContentGuard,
    ) -> BoxFuture<'a, Result<(), GuardDenied>> {
        Box::pin(ContentGuardCheck::check(self, app, request, guard))
    }
}

/// A registered check (the registry keeps them by guard type).
#[derive(Clone)]
pub struct GuardCheck(Arc<dyn DynGuardCheck>);

impl GuardCheck {
    /// Wraps a check.
    pub fn new(check: impl ContentGuardCheck) -> Self {
        GuardCheck(Arc::new(check))
    }

    /// Runs the check (see [`ContentGuardCheck::check`]).
    pub async fn check(
        &self,
        app: &App,
        request: &Parts,
        guard: &ContentGuard,
    ) -> Result<(), GuardDenied> {
        self.0.check(app, request, guard).await
    }
}

impl std::fmt::Debug for GuardCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuardCheck")
    }
}
