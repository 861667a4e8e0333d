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

/// Who is asking, as the content app authenticated the request (HTTP Basic against the REST
/// API's users, or the remote-user header when configured): an extension of the request
/// head a check reads with `request.extensions.get::<Requester>()`; absent for anonymous
/// requests and for credentials that did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// The user's id.
    pub user_id: crate::db::PulpId,
    /// The user's name.
    pub username: String,
    /// Holds every permission.
    pub is_superuser: bool,
}

/// A content-guard type with its model and its decision, declared with
/// [`Registry::guard_type`](crate::plugin::Registry::guard_type): the detail type `T`
/// (its fields, validated by its [`Validate`](crate::validation::Validate) at create and
/// update) gets the generic REST API, and `permit` decides on each request for a guarded
/// distribution, with the guard loaded (and kept while unchanged: a request costs no query).
pub trait GuardType: crate::models::Detail<Kind = crate::models::ContentGuardKind> {
    /// `Ok(())` lets the request through; `Err` answers 403 with the reason.
    fn permit(
        app: &App,
        request: &Parts,
        guard: &crate::models::Model<Self>,
    ) -> impl Future<Output = Result<(), GuardDenied>> + Send;
}

type ModelCache<T> = std::collections::HashMap<
    crate::db::PulpId,
    (chrono::DateTime<chrono::Utc>, Arc<crate::models::Model<T>>),
>;

/// The check of a [`GuardType`]: loads the guard's detail once per change of the guard
/// (the master's `pulp_last_updated` tells), then runs [`GuardType::permit`].
pub(crate) struct TypedCheck<T: GuardType> {
    models: std::sync::Mutex<ModelCache<T>>,
}

impl<T: GuardType> TypedCheck<T> {
    pub(crate) fn new() -> Self {
        Self {
            models: std::sync::Mutex::new(Default::default()),
        }
    }

    async fn model(
        &self,
        app: &App,
        guard: &ContentGuard,
    ) -> Result<Arc<crate::models::Model<T>>, GuardDenied> {
        let cached = self.models.lock().ok().and_then(|m| {
            m.get(&guard.pulp_id)
                .filter(|(at, _)| *at == guard.pulp_last_updated)
                .map(|(_, model)| model.clone())
        });
        if let Some(model) = cached {
            return Ok(model);
        }
        let model = crate::models::get::<T>(app.db(), guard.pulp_id)
            .await
            .map_err(|e| {
                tracing::error!(guard = %guard.pulp_id, error = %e, "cannot load a content guard");
                GuardDenied("The content guard could not be loaded.".into())
            })?;
        let model = Arc::new(model);
        if let Ok(mut models) = self.models.lock() {
            if models.len() > 4096 {
                models.clear();
            }
            models.insert(
                guard.pulp_id,
                (model.master.pulp_last_updated, model.clone()),
            );
        }
        Ok(model)
    }
}

impl<T: GuardType> ContentGuardCheck for TypedCheck<T> {
    async fn check(
        &self,
        app: &App,
        request: &Parts,
        guard: &ContentGuard,
    ) -> Result<(), GuardDenied> {
        let model = self.model(app, guard).await?;
        T::permit(app, request, &model).await
    }
}

/// Runs the check of `guard`'s type on `request` (a guard whose type has no check refuses).
/// What the content app does for a guarded distribution, and a composite guard for each of
/// its members.
pub async fn evaluate(app: &App, request: &Parts, guard: &ContentGuard) -> Result<(), GuardDenied> {
    match app.content_guard_check(&guard.pulp_type) {
        Some(check) => check.check(app, request, guard).await,
        None => Err(GuardDenied(format!(
            "No check is declared for content guards of type '{}'.",
            guard.pulp_type
        ))),
    }
}
