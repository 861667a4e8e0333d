//! The [`Plugin`] trait and the [`Registry`] a plugin declares itself into.

use serde::Serialize;

use std::future::Future;

use crate::api::generic::{mount_detail, mount_publication, DetailOps};
use crate::api::{ApiMounter, ApiRoutes};
use crate::db::Migration;
use crate::models::{
    ContentDetail, ContentGuardKind, Detail, DistributionKind, MasterKind, PublicationKind,
    RemoteKind, SingleArtifactContent,
};
use crate::repository::{RepositoryHooks, RepositoryType};
use crate::settings::{SettingError, Settings, SettingsLoader};
use crate::tasking::{TaskContext, TaskFunctions, TaskOutput};

/// Pulp API level this release of pulp-rs implements (what `/status/` reports for `core`).
pub const PULP_API_VERSION: &str = "3.123.1";

/// A versioned component as `/status/` lists it (Pulp's `VersionResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    /// Short name clients look for (`core`, `file`).
    pub component: String,
    /// The Pulp API level implemented (clients compare it with the versions they need).
    pub version: String,
    /// The crate providing it, with its own version (`pulp-file 0.1.0`).
    pub package: String,
    /// The crate's own release (`0.1.0`), apart from the Pulp API level in `version`, which
    /// is what clients such as pulp-cli compare.
    pub package_version: String,
    /// The module Pulp would name (`pulp_file.app`).
    pub module: String,
    /// Whether the component supports domains.
    pub domain_compatible: bool,
}

impl Component {
    /// A component at the Pulp API level of this release.
    pub fn new(component: &str, package: &str, package_version: &str, module: &str) -> Self {
        Self {
            component: component.into(),
            version: PULP_API_VERSION.into(),
            package: format!("{package} {package_version}"),
            package_version: package_version.into(),
            module: module.into(),
            domain_compatible: true,
        }
    }
}

/// A plugin: a value that declares what it adds to pulp-rs when the app is built.
///
/// Lifecycle, in order: [`AppBuilder::plugin`](crate::app::AppBuilder::plugin) stores the
/// plugin; at `build()` each plugin's [`Plugin::register`] runs once, in the order they were
/// added; then settings are loaded (with the plugins' defaults) and validated (with their
/// validators), the database is opened and migrations are applied (core's first, then each
/// plugin's).
///
/// Any `Fn(&mut Registry)` is a plugin too, so the smallest plugin is a function.
pub trait Plugin: Send + Sync + 'static {
    /// Declares the plugin's components, settings and migrations.
    fn register(&self, registry: &mut Registry);

    /// A name for error messages (adding the same plugin twice is an error naming it).
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }
}

impl<F> Plugin for F
where
    F: Fn(&mut Registry) + Send + Sync + 'static,
{
    fn register(&self, registry: &mut Registry) {
        self(registry)
    }
}

/// What plugins (and pulp-core itself) have declared.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    pub(crate) components: Vec<Component>,
    pub(crate) settings: SettingsLoader,
    pub(crate) migrations: Vec<Migration>,
    pub(crate) tasks: TaskFunctions,
    pub(crate) owner: String,
    pub(crate) detail_types: Vec<DetailType>,
    pub(crate) repository_hooks: std::collections::BTreeMap<String, RepositoryHooks>,
    pub(crate) detail_ops: std::collections::BTreeMap<(String, String), DetailOps>,
    pub(crate) api_mounters: Vec<ApiMounter>,
    pub(crate) sync_tasks: std::collections::BTreeMap<String, String>,
    pub(crate) publish_tasks: std::collections::BTreeMap<String, String>,
    pub(crate) content_uploads:
        std::collections::BTreeMap<String, crate::api::content_upload::ContentUploadOps>,
    pub(crate) content_routes: Vec<ContentRoutes>,
    pub(crate) guard_checks: std::collections::BTreeMap<String, crate::content_guard::GuardCheck>,
    pub(crate) access_policies: Vec<(String, crate::access_policy::AccessPolicy)>,
    pub(crate) import_export: crate::importexport::ImportExportResources,
    pub(crate) permissions: Vec<crate::rbac::PermissionDecl>,
    pub(crate) locked_roles: Vec<crate::rbac::LockedRole>,
    pub(crate) replicators: crate::replication::Replicators,
    pub(crate) task_schedules: Vec<(crate::tasking::TaskSchedule, String)>,
    pub(crate) listener_routes: Vec<ContentRoutes>,
    /// Distribution types serving only publications (pulpcore's `SERVE_FROM_PUBLICATION`).
    pub(crate) served_from_publication: std::collections::BTreeSet<String>,
    /// Extra response headers per distribution type (pulpcore's `content_headers_for`).
    pub(crate) content_headers: std::collections::BTreeMap<String, ContentHeaders>,
}

/// The extra response headers a distribution type gives the file at a relative path
/// (pulpcore's `Distribution.content_headers_for`: `Cache-Control: no-cache` for metadata
/// that changes at the same path, …). See [`Registry::content_headers`].
pub type ContentHeaders = fn(&str) -> Vec<(String, String)>;

/// Builds routes a plugin adds to the content app (see [`Registry::content_routes`]).
pub type ContentRoutes = fn(crate::app::App) -> axum::Router;

/// A detail type a plugin declared (what generic code needs to know about it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailType {
    /// `<plugin>.<type>` (`file.file`).
    pub pulp_type: &'static str,
    /// Its master table (`core_content`).
    pub master_table: &'static str,
    /// Its kind's path in hrefs (`content`).
    pub kind_endpoint: &'static str,
    /// Its own path below the kind (`file/files`).
    pub endpoint: &'static str,
    /// Its table.
    pub table: &'static str,
    /// Its PRN model (`file.filecontent`).
    pub prn_model: &'static str,
    /// The plugin that declared it.
    pub owner: String,
    /// Its href parameter's name when not the derived one (see `Detail::HREF_PARAM`).
    pub href_param: &'static str,
}

impl Registry {
    /// Declares a task schedule: its task is dispatched once per interval across every
    /// process (listed at `/task-schedules/`; settings may declare more).
    pub fn task_schedule(&mut self, schedule: crate::tasking::TaskSchedule) -> &mut Self {
        let owner = self.owner.clone();
        self.task_schedules.push((schedule, owner));
        self
    }

    /// Declares a versioned component (listed by `/status/`).
    pub fn component(&mut self, component: Component) -> &mut Self {
        self.components.push(component);
        self
    }

    /// Adds default values for settings (a TOML-like table: `{"file_max_size": 100}`).
    /// They sit above the built-in defaults and below the settings file and environment.
    pub fn settings_defaults(&mut self, defaults: serde_json::Value) -> &mut Self {
        if let serde_json::Value::Object(map) = defaults {
            let owner = self.owner.clone();
            self.settings.add_defaults(&owner, map);
        }
        self
    }

    /// Adds a check of the loaded settings; an error stops start-up with its message.
    pub fn settings_validator(
        &mut self,
        validator: impl Fn(&Settings) -> Result<(), SettingError> + Send + Sync + 'static,
    ) -> &mut Self {
        let owner = self.owner.clone();
        self.settings
            .add_validator(&owner, std::sync::Arc::new(validator));
        self
    }

    /// Declares the default access policy of the viewset `viewset_name` (the group of API
    /// operations whose ids start with it, `/` and `-` written `_`: `repositories/file/file`
    /// covers `repositories_file_file_sync`; the rest of the id is the action, `read` being
    /// `retrieve` and `delete` `destroy`). It is stored at migration time, replaces the stored
    /// one at each migration unless an administrator customized it, and is what
    /// `POST {access_policy_href}reset/` restores. An operation of no declared viewset is
    /// refused to every user but superusers. Declaring a viewset again replaces its default.
    pub fn access_policy(
        &mut self,
        viewset_name: &str,
        policy: crate::access_policy::AccessPolicy,
    ) -> &mut Self {
        self.access_policies
            .retain(|(name, _)| name != viewset_name);
        self.access_policies
            .push((viewset_name.to_string(), policy));
        self
    }

    /// Declares a permission on the model `content_type` (`file.filerepository`) besides its
    /// default `view_`/`add_`/`change_`/`delete_` ones (which every declared detail type has):
    /// `r.permission("file.filerepository", "sync_filerepository", "Can start a sync task")`.
    /// Permissions are written at migration time; roles name them `<app>.<codename>`.
    pub fn permission(&mut self, content_type: &str, codename: &str, name: &str) -> &mut Self {
        if let Some((app, model)) = content_type.split_once('.') {
            self.permissions
                .push(crate::rbac::PermissionDecl::new(app, codename, model, name));
        }
        self
    }

    /// Declares a locked role (`file.filerepository_owner` with its permissions): written at
    /// migration time, brought back to this declaration at every migration, and refused any
    /// change through the API. Declaring a role again replaces it.
    pub fn locked_role(&mut self, role: crate::rbac::LockedRole) -> &mut Self {
        self.locked_roles.retain(|r| r.name != role.name);
        self.locked_roles.push(role);
        self
    }

    /// Adds the plugin's migrations, applied in order after pulp-core's.
    pub fn migrations(&mut self, migrations: impl IntoIterator<Item = Migration>) -> &mut Self {
        self.migrations.extend(migrations);
        self
    }

    /// Registers a task function under a stable `name` (stored in task rows: keep old names
    /// registered when renaming, until the next major release).
    pub fn task<F, Fut>(&mut self, name: &str, function: F) -> &mut Self
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = TaskOutput> + Send + 'static,
    {
        self.tasks.register(name, function);
        self
    }

    /// Declares a detail type of any kind (prefer the typed calls below).
    pub fn detail<T: Detail>(&mut self) -> &mut Self {
        self.detail_types.push(DetailType {
            pulp_type: T::PULP_TYPE,
            master_table: <T::Kind as MasterKind>::TABLE,
            kind_endpoint: <T::Kind as MasterKind>::ENDPOINT,
            endpoint: T::ENDPOINT,
            table: T::TABLE,
            prn_model: T::PRN_MODEL,
            owner: self.owner.clone(),
            href_param: T::HREF_PARAM,
        });
        self.permissions
            .extend(crate::rbac::PermissionDecl::defaults_of(T::PRN_MODEL));
        self.detail_ops.insert(
            (
                <T::Kind as MasterKind>::TABLE.to_string(),
                T::PULP_TYPE.to_string(),
            ),
            DetailOps::of::<T>(),
        );
        self.api_mounters.push(ApiMounter::new(mount_detail::<T>));
        self
    }

    /// Adds REST routes (documented in the OpenAPI document) to the API.
    pub fn api_routes(
        &mut self,
        mount: impl Fn(&mut ApiRoutes) + Send + Sync + 'static,
    ) -> &mut Self {
        self.api_mounters.push(ApiMounter::new(mount));
        self
    }

    /// Names the task that syncs repositories of type `pulp_type` (what
    /// `POST {repository_href}sync/` dispatches, with args
    /// `{"remote_pk", "repository_pk", "mirror"}`).
    #[deprecated(note = "use r.repository::<R>().sync(name, function); removed in 0.3.0")]
    pub fn sync_task(&mut self, pulp_type: &str, task_name: &str) -> &mut Self {
        self.sync_tasks.insert(pulp_type.into(), task_name.into());
        self
    }

    /// Names the task that publishes versions into publications of type `pulp_type` (what
    /// `POST /publications/<type>/` dispatches, with args `{"repository_version_pk", …}` plus
    /// the publication's own fields).
    #[deprecated(note = "use r.repository::<R>().publish::<P>(name, function); removed in 0.3.0")]
    pub fn publish_task(&mut self, pulp_type: &str, task_name: &str) -> &mut Self {
        self.publish_tasks
            .insert(pulp_type.into(), task_name.into());
        self
    }

    /// Declares a content type.
    pub fn content<T: ContentDetail>(&mut self) -> &mut Self {
        self.detail::<T>()
    }

    /// Makes units of the single-artifact content type `T` creatable through the API:
    /// `POST /content/<plugin>/<type>/` (a task; from an artifact, a file or a chunked upload,
    /// optionally added to a repository) and `POST …/upload/` (at once). Declare the type
    /// with [`Registry::content`] first (this replaces its request schema with Pulp's).
    pub fn content_upload<T: SingleArtifactContent>(&mut self) -> &mut Self {
        self.content_uploads.insert(
            T::PULP_TYPE.to_string(),
            crate::api::content_upload::ContentUploadOps::of::<T>(),
        );
        self.api_mounters.push(ApiMounter::new(
            crate::api::content_upload::mount_content_upload::<T>,
        ));
        self
    }

    /// Declares a remote type.
    pub fn remote<T: Detail<Kind = RemoteKind>>(&mut self) -> &mut Self {
        self.detail::<T>()
    }

    /// Declares a repository type with its version hooks. The answer registers the type's
    /// sync and publish tasks (`r.repository::<R>().sync(…).publish::<P>(…)`), and otherwise
    /// is the registry (`r.repository::<R>().distribution::<D>()` goes on declaring).
    pub fn repository<T: RepositoryType>(&mut self) -> RepositoryRegistration<'_, T> {
        self.repository_hooks
            .insert(T::PULP_TYPE.to_string(), RepositoryHooks::of::<T>());
        self.detail::<T>();
        self.api_mounters
            .push(ApiMounter::new(|routes: &mut ApiRoutes| {
                crate::api::generic::mount_repository_with::<T>(routes, T::GENERIC_MODIFY)
            }));
        RepositoryRegistration {
            registry: self,
            repository: std::marker::PhantomData,
        }
    }

    /// Declares a publication type.
    pub fn publication<T: Detail<Kind = PublicationKind>>(&mut self) -> &mut Self {
        self.detail::<T>();
        self.api_mounters
            .push(ApiMounter::new(mount_publication::<T>));
        self
    }

    /// Declares a distribution type.
    pub fn distribution<T: Detail<Kind = DistributionKind>>(&mut self) -> &mut Self {
        self.detail::<T>()
    }

    /// Declares that distributions of type `T` serve publications only, as pulpcore's
    /// `SERVE_FROM_PUBLICATION` (pulp_file's): one naming a repository serves the latest
    /// publication of its versions, one naming a version that version's latest publication,
    /// and with no such publication every path is a 404 (never the bare version).
    pub fn serve_from_publication<T: Detail<Kind = DistributionKind>>(&mut self) -> &mut Self {
        self.served_from_publication
            .insert(T::PULP_TYPE.to_string());
        self
    }

    /// Declares the extra headers the content app sends with the files served by
    /// distributions of type `T` (by the file's path relative to the distribution), as
    /// pulpcore's `Distribution.content_headers_for`; headers that are not valid HTTP are
    /// left out.
    pub fn content_headers<T: Detail<Kind = DistributionKind>>(
        &mut self,
        headers: ContentHeaders,
    ) -> &mut Self {
        self.content_headers
            .insert(T::PULP_TYPE.to_string(), headers);
        self
    }

    /// Declares a content-guard type.
    pub fn content_guard<T: Detail<Kind = ContentGuardKind>>(&mut self) -> &mut Self {
        self.detail::<T>()
    }

    /// Declares a content-guard type with its decision (see
    /// [`GuardType`](crate::content_guard::GuardType)): the detail type, its REST API
    /// (`/contentguards/<plugin>/<type>/`, with roles and labels) and its check, which loads
    /// the guard only when it changed. What core's own guard types are declared with.
    pub fn guard_type<T: crate::content_guard::GuardType>(&mut self) -> &mut Self {
        self.content_guard::<T>();
        self.content_guard_check(T::PULP_TYPE, crate::content_guard::TypedCheck::<T>::new())
    }

    /// Adds routes to the content app: `routes(app)` is merged into
    /// [`content_router`](crate::content_app::content_router) before the distribution
    /// handler, so its paths (full paths, e.g. `/pulp/content/<plugin>/…`) take precedence;
    /// every other path is served from distributions as usual.
    pub fn content_routes(&mut self, routes: ContentRoutes) -> &mut Self {
        self.content_routes.push(routes);
        self
    }

    /// Adds routes to the API listener outside `/pulp/api/v3/` (a registry API at `/v2/` and
    /// its `/token/` endpoint): `routes(app)` is merged into the API router as it is, with
    /// none of the REST API's authentication, access policies or OpenAPI documentation —
    /// the plugin authenticates and authorizes these requests itself.
    pub fn api_listener_routes(&mut self, routes: ContentRoutes) -> &mut Self {
        self.listener_routes.push(routes);
        self
    }

    /// Declares how content guards of type `pulp_type` decide on requests (see
    /// [`ContentGuardCheck`](crate::content_guard::ContentGuardCheck)). A guarded distribution
    /// whose guard type has no check refuses every request with 403.
    pub fn content_guard_check(
        &mut self,
        pulp_type: &str,
        check: impl crate::content_guard::ContentGuardCheck,
    ) -> &mut Self {
        self.guard_checks.insert(
            pulp_type.to_string(),
            crate::content_guard::GuardCheck::new(check),
        );
        self
    }

    /// Declares the import/export resource of content type `T` (pulpcore's model resource
    /// named `name`, e.g. `pulp_file.app.modelresource.FileContentResource`): Pulp exports
    /// of repositories of `T`'s plugin write its units to `<name>.json`, imports read them.
    pub fn export_content<T: crate::models::ContentDetail>(&mut self, name: &str) -> &mut Self {
        self.import_export
            .add_content(crate::importexport::ContentResource::of::<T>(name));
        self
    }

    /// Declares the import/export resource of repository type `T` (e.g.
    /// `pulp_file.app.modelresource.FileRepositoryResource`): what imports create missing
    /// repositories from.
    pub fn export_repository<T: RepositoryType>(&mut self, name: &str) -> &mut Self {
        self.import_export
            .add_repository(crate::importexport::RepositoryResource::of::<T>(name));
        self
    }

    /// Declares how the upstream's distributions of `R`'s type are replicated (see
    /// [`Replicator`](crate::replication::Replicator)): `replicate/` of an upstream Pulp
    /// makes, per upstream distribution, an `R::Remote`, an `R::Repository` synced from it
    /// with the type's sync task and an `R::Distribution` at the same base path. Declaring
    /// a replicator of the same distribution type again replaces it.
    pub fn replicator<R: crate::replication::Replicator>(&mut self, replicator: R) -> &mut Self {
        self.replicators.add(replicator);
        self
    }

    /// The detail types declared so far.
    pub fn detail_types(&self) -> &[DetailType] {
        &self.detail_types
    }

    /// The components declared so far.
    pub fn components(&self) -> &[Component] {
        &self.components
    }
}

/// A repository type being declared ([`Registry::repository`]): registers its sync and
/// publish tasks, each under one name in one place. Dereferences to the [`Registry`].
#[derive(Debug)]
pub struct RepositoryRegistration<'r, T> {
    registry: &'r mut Registry,
    repository: std::marker::PhantomData<fn() -> T>,
}

impl<T: RepositoryType> RepositoryRegistration<'_, T> {
    /// Registers `function` as the task `name` (stored in task rows: keep a name once
    /// released) and makes it what `POST {repository_href}sync/` dispatches for repositories
    /// of this type, with args `{"remote_pk", "repository_pk", "mirror"}`.
    pub fn sync(self, name: &str, function: impl TaskFunction) -> Self {
        self.registry
            .tasks
            .register(name, move |task| function.call(task));
        self.registry
            .sync_tasks
            .insert(T::PULP_TYPE.to_string(), name.to_string());
        self
    }

    /// Declares the publication type `P` of this repository type and registers `function`
    /// as the task `name`: what `POST /publications/<P's endpoint>/` dispatches, with args
    /// `{"repository_version_pk", …}` plus the publication's own fields.
    pub fn publish<P: Detail<Kind = PublicationKind>>(
        self,
        name: &str,
        function: impl TaskFunction,
    ) -> Self {
        self.registry.publication::<P>();
        self.registry
            .tasks
            .register(name, move |task| function.call(task));
        self.registry
            .publish_tasks
            .insert(P::PULP_TYPE.to_string(), name.to_string());
        self
    }
}

impl<T> std::ops::Deref for RepositoryRegistration<'_, T> {
    type Target = Registry;
    fn deref(&self) -> &Registry {
        self.registry
    }
}

impl<T> std::ops::DerefMut for RepositoryRegistration<'_, T> {
    fn deref_mut(&mut self) -> &mut Registry {
        self.registry
    }
}

/// A task function: an `async fn(TaskContext) -> TaskOutput` (any such `Fn` is one).
pub trait TaskFunction: Send + Sync + 'static {
    /// What a call returns.
    type Future: Future<Output = TaskOutput> + Send + 'static;
    /// Runs the task.
    fn call(&self, task: TaskContext) -> Self::Future;
}

impl<F, Fut> TaskFunction for F
where
    F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = TaskOutput> + Send + 'static,
{
    type Future = Fut;
    fn call(&self, task: TaskContext) -> Fut {
        self(task)
    }
}
