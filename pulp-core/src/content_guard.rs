//! Content guards: a plugin declares how guards of its type decide on a request.
//!
//! A declaration the [`Registry`](crate::plugin::Registry) holds, written against the `http`
//! crate's request head rather than the content app: the content app evaluates it.

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
pub trait ContentGuardCheck: Send + Sync + 'static {
    /// `Ok(())` lets the request through; `Err` answers 403 with the reason.
    fn check<'a>(
        &'a self,
        app: &'a App,
        request: &'a Parts,
        guard: &'a ContentGuard,
    ) -> BoxFuture<'a, Result<(), GuardDenied>>;
}

impl<F> ContentGuardCheck for F
where
    F: Fn(&Parts, &ContentGuard) -> Result<(), GuardDenied> + Send + Sync + 'static,
{
    fn check<'a>(
        &'a self,
        _app: &'a App,
        request: &'a Parts,
        guard: &'a ContentGuard,
    ) -> BoxFuture<'a, Result<(), GuardDenied>> {
        let verdict = self(request, guard);
        Box::pin(async move { verdict })
    }
}

/// A registered check (the registry keeps them by guard type).
#[derive(Clone)]
pub struct GuardCheck(pub Arc<dyn ContentGuardCheck>);

impl std::fmt::Debug for GuardCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuardCheck")
    }
}
