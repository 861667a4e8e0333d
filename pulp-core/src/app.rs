//! [`App`]: settings, database, storage and plugins of one pulp-rs process, built once.

use std::sync::Arc;

use crate::db::{Database, DbError, Migration};
use crate::plugin::{Component, Plugin, Registry};
use crate::settings::{SettingError, Settings, SettingsSources};
use crate::storage::{ArtifactStorage, StorageError};
use crate::tasking::{TaskFunctions, Wakeup};

/// Why an app could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A setting is invalid, or what it names cannot be used (database, storage).
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The same plugin was added twice.
    #[error("plugin {0} was added twice")]
    DuplicatePlugin(String),
    /// Two registrations use the same task name.
    #[error("task function '{0}' is registered twice")]
    DuplicateTask(String),
    /// Two plugins declare the same component.
    #[error("component '{0}' is declared by two plugins")]
    DuplicateComponent(String),
    /// Two plugins (or one, twice) declare the same detail type.
    #[error("detail type '{0}' is declared twice")]
    DuplicateType(String),
    /// A database error after connecting.
    #[error(transparent)]
    Database(#[from] DbError),
    /// A pending migration breaks the code of processes still running an older release.
    #[error("migration {migration} breaks the previous release, which these processes still run: {processes}; stop them first")]
    UnsafeUpgrade {
        /// `app.name` of the first breaking migration.
        migration: String,
        /// `name (app_type, versions)` of each older process with a fresh heartbeat.
        processes: String,
    },
    /// A storage error after opening it.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Collects plugins, then builds an [`App`].
pub struct AppBuilder {
    sources: SettingsSources,
    /// Tasks of the layers above the domain (the REST API's `general_create`, …), which the
    /// composition root ([`App::builder`]) adds: every process must be able to run them.
    core_tasks: Vec<fn(&mut TaskFunctions)>,
    plugins: Vec<Box<dyn Plugin>>,
    duplicate: Option<String>,
}

impl std::fmt::Debug for AppBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppBuilder")
            .field("sources", &self.sources)
            .field(
                "plugins",
                &self.plugins.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl AppBuilder {
    /// Adds tasks every process of the app can run (what a layer above the domain dispatches).
    pub fn core_tasks(mut self, register: fn(&mut TaskFunctions)) -> Self {
        self.core_tasks.push(register);
        self
    }

    /// Adds a plugin (adding the same one twice makes `build` fail, naming it).
    pub fn plugin(mut self, plugin: impl Plugin) -> Self {
        if self.plugins.iter().any(|p| p.name() == plugin.name()) {
            self.duplicate
                .get_or_insert_with(|| plugin.name().to_string());
        }
        self.plugins.push(Box::new(plugin));
        self
    }

    /// Runs every plugin's registration (no settings are read, nothing is opened).
    pub fn registry(&self) -> Result<Registry, AppError> {
        if let Some(name) = &self.duplicate {
            return Err(AppError::DuplicatePlugin(name.clone()));
        }
        let mut registry = Registry {
            owner: "core".into(),
            ..Registry::default()
        };
        registry.component(Component::new(
            "core",
            "pulp-core",
            env!("CARGO_PKG_VERSION"),
            "pulpcore.app",
        ));
        // Core's content-guard types and pulp-certguard's, declared as plugins declare theirs.
        crate::guards::register_core(&mut registry);
        registry.owner = "certguard".into();
        crate::guards::register_certguard(&mut registry);
        registry.owner = "core".into();
        crate::tasking::register_builtin(&mut registry.tasks);
        for register in &self.core_tasks {
            register(&mut registry.tasks);
        }
        for plugin in &self.plugins {
            registry.owner = plugin.name().to_string();
            plugin.register(&mut registry);
        }
        if let Some(name) = registry.tasks.duplicates().first() {
            return Err(AppError::DuplicateTask(name.clone()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for component in &registry.components {
            if !seen.insert(component.component.clone()) {
                return Err(AppError::DuplicateComponent(component.component.clone()));
            }
        }
        let mut types = std::collections::BTreeSet::new();
        for detail in &registry.detail_types {
            if !types.insert((detail.master_table, detail.pulp_type)) {
                return Err(AppError::DuplicateType(detail.pulp_type.to_string()));
            }
        }
        Ok(registry)
    }

    /// Loads and validates the settings (with the plugins' defaults and validators).
    pub fn load_settings(&self) -> Result<Settings, AppError> {
        let registry = self.registry()?;
        Ok(registry.settings.load(&self.sources)?)
    }

    /// Loads the settings, opens the storage and connects to the database.
    /// Migrations are not applied: call [`App::migrate`].
    pub async fn build(self) -> Result<App, AppError> {
        let registry = self.registry()?;
        let settings = registry.settings.load(&self.sources)?;
        App::assemble(settings, registry).await
    }

    /// Builds with settings made in code (the sources are not read; the validators run).
    pub async fn build_with(self, settings: Settings) -> Result<App, AppError> {
        let registry = self.registry()?;
        registry.settings.validate(&settings)?;
        App::assemble(settings, registry).await
    }
}

/// The declared schedules: the plugins' (by plugin name), then the settings' (`settings`).
fn declared_schedules(
    settings: &Settings,
    registry: &Registry,
) -> Vec<(crate::tasking::TaskSchedule, String)> {
    let mut all = registry.task_schedules.clone();
    all.extend(
        settings
            .task_schedules
            .iter()
            .map(|s| (s.clone(), "settings".to_string())),
    );
    all
}

/// Every schedule names a registered task, and names are unique across plugins and settings.
fn check_schedules(settings: &Settings, registry: &Registry) -> Result<(), SettingError> {
    let all = declared_schedules(settings, registry);
    let list: Vec<_> = all.iter().map(|(s, _)| s.clone()).collect();
    crate::tasking::validate_schedules(&list)
        .map_err(|e| SettingError::new("task_schedules", e))?;
    if let Some((s, by)) = all
        .iter()
        .find(|(s, _)| registry.tasks.get(&s.task_name).is_none())
    {
        return Err(SettingError::new(
            "task_schedules",
            format!(
                "schedule '{}' (declared by {by}) names task '{}', which no plugin registers",
                s.name, s.task_name
            ),
        ));
    }
    Ok(())
}

/// Whether a process reporting `theirs` (`{component: version}`) runs an older release of a
/// component than `ours` (numeric dotted versions; a missing component counts as older).
fn runs_older(theirs: &serde_json::Value, ours: &serde_json::Value) -> bool {
    let parse = |v: &str| -> Vec<u64> {
        v.split(['.', '-', '+'])
            .map_while(|p| p.parse().ok())
            .collect()
    };
    let Some(ours) = ours.as_object() else {
        return false;
    };
    ours.iter().any(|(component, version)| {
        match (
            theirs.get(component).and_then(|v| v.as_str()),
            version.as_str(),
        ) {
            (Some(t), Some(o)) => parse(t) < parse(o),
            (None, _) => component == "core",
            _ => false,
        }
    })
}

/// The shared state of a pulp-rs process.
#[derive(Debug, Clone)]
pub struct App {
    inner: Arc<AppInner>,
}

#[derive(Debug)]
struct AppInner {
    settings: Settings,
    db: Database,
    bulk_db: Database,
    storage: ArtifactStorage,
    registry: Registry,
    wakeup: Wakeup,
    process_name: String,
    served_objects: std::sync::atomic::AtomicU64,
}

impl App {
    /// A builder of an app of the domain alone, reading settings from `sources` (see
    /// [`App::builder`], which adds the tasks of the REST API).
    pub fn domain_builder(sources: SettingsSources) -> AppBuilder {
        AppBuilder {
            sources,
            core_tasks: Vec::new(),
            plugins: Vec::new(),
            duplicate: None,
        }
    }

    async fn assemble(settings: Settings, registry: Registry) -> Result<App, AppError> {
        check_schedules(&settings, &registry)?;
        let storage = ArtifactStorage::from_settings(&settings)
            .map_err(|e| SettingError::new("storage.url", e.to_string()))?;
        std::fs::create_dir_all(settings.effective_working_directory()).map_err(|e| {
            SettingError::new(
                "working_directory",
                format!(
                    "cannot create {}: {e}",
                    settings.effective_working_directory().display()
                ),
            )
        })?;
        let db = Database::connect(&settings.effective_database_url())
            .await
            .map_err(|e| SettingError::new("database_url", e.to_string()))?;
        let bulk_db = db.relaxed();
        Ok(App {
            inner: Arc::new(AppInner {
                served_objects: Default::default(),
                settings,
                db,
                bulk_db,
                storage,
                registry,
                wakeup: Wakeup::default(),
                process_name: crate::status::process_name(),
            }),
        })
    }

    /// The import/export resources the plugins declared.
    pub fn import_export_resources(&self) -> &crate::importexport::ImportExportResources {
        &self.inner.registry.import_export
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.inner.db
    }

    /// The database for bulk writes that need not be durable one by one ([`Database::relaxed`]):
    /// the batches of a sync and progress reports; the commit that completes the work (a
    /// repository version, a task's end) goes through [`App::db`].
    pub fn bulk_db(&self) -> &Database {
        &self.inner.bulk_db
    }

    /// The artifact storage.
    pub fn storage(&self) -> &ArtifactStorage {
        &self.inner.storage
    }

    /// Core and plugin components, as `/status/` lists them.
    pub fn components(&self) -> &[Component] {
        &self.inner.registry.components
    }

    /// The registered task functions.
    pub fn task_functions(&self) -> &TaskFunctions {
        &self.inner.registry.tasks
    }

    /// The signal that wakes this process's idle workers.
    pub fn wakeup(&self) -> &Wakeup {
        &self.inner.wakeup
    }

    /// What the plugins (and core) declared: the layers above the domain (the REST API, the
    /// content app) derive what they serve from it.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The name this process registers under (`<pid>@<host>`).
    pub fn process_name(&self) -> &str {
        &self.inner.process_name
    }

    /// The detail types the plugins declared.
    pub fn detail_types(&self) -> &[crate::plugin::DetailType] {
        &self.inner.registry.detail_types
    }

    /// Routes plugins add to the content app.
    pub fn content_routes(&self) -> &[crate::plugin::ContentRoutes] {
        &self.inner.registry.content_routes
    }

    /// Routes plugins add to the API listener outside the REST API
    /// ([`Registry::api_listener_routes`](crate::plugin::Registry::api_listener_routes)).
    pub fn api_listener_routes(&self) -> &[crate::plugin::ContentRoutes] {
        &self.inner.registry.listener_routes
    }

    /// The check of content guards of type `pulp_type`, if a plugin declared one.
    pub fn content_guard_check(&self, pulp_type: &str) -> Option<crate::content_guard::GuardCheck> {
        self.inner.registry.guard_checks.get(pulp_type).cloned()
    }

    /// Whether distributions of `pulp_type` serve publications only (see
    /// [`Registry::serve_from_publication`](crate::plugin::Registry::serve_from_publication)).
    pub fn serves_from_publication(&self, pulp_type: &str) -> bool {
        self.inner
            .registry
            .served_from_publication
            .contains(pulp_type)
    }

    /// The extra headers distributions of `pulp_type` send with the file at `path` (see
    /// [`Registry::content_headers`](crate::plugin::Registry::content_headers)).
    pub fn content_headers_for(&self, pulp_type: &str, path: &str) -> Vec<(String, String)> {
        self.inner
            .registry
            .content_headers
            .get(pulp_type)
            .map(|headers| headers(path))
            .unwrap_or_default()
    }

    /// Notes that a distribution, publication or repository changed, so that whatever
    /// caches what they serve in this process (the content app) reloads it at once; other
    /// processes see the change when their caches expire.
    pub fn served_objects_changed(&self) {
        self.inner
            .served_objects
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// How many times [`App::served_objects_changed`] was called (caches compare it with
    /// the value they were filled at).
    pub fn served_objects_generation(&self) -> u64 {
        self.inner
            .served_objects
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// The version hooks of the repository type `pulp_type`, if a plugin declared it.
    pub fn repository_hooks(&self, pulp_type: &str) -> Option<crate::repository::RepositoryHooks> {
        self.inner.registry.repository_hooks.get(pulp_type).copied()
    }

    /// The sync task of repository type `pulp_type`.
    pub fn sync_task(&self, pulp_type: &str) -> Option<&str> {
        self.inner
            .registry
            .sync_tasks
            .get(pulp_type)
            .map(String::as_str)
    }

    /// The publish task of publication type `pulp_type`.
    pub fn publish_task(&self, pulp_type: &str) -> Option<&str> {
        self.inner
            .registry
            .publish_tasks
            .get(pulp_type)
            .map(String::as_str)
    }

    /// The href path of content type `pulp_type` below `/content/` (`file/files`).
    pub fn content_endpoint(&self, pulp_type: &str) -> Option<String> {
        self.detail_types()
            .iter()
            .find(|d| d.pulp_type == pulp_type && d.master_table == "core_content")
            .map(|d| d.endpoint.to_string())
    }

    /// `{component: version}` of every component (stored with each heartbeat).
    pub fn component_versions(&self) -> serde_json::Value {
        self.components()
            .iter()
            .map(|c| {
                (
                    c.component.clone(),
                    serde_json::Value::String(c.version.clone()),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// Every declared task schedule with who declared it (a plugin's name or `settings`).
    pub fn task_schedules(&self) -> Vec<(crate::tasking::TaskSchedule, String)> {
        declared_schedules(&self.inner.settings, &self.inner.registry)
    }

    /// pulp-core's migrations followed by every plugin's.
    pub fn migrations(&self) -> Vec<Migration> {
        let mut all = crate::db::core_migrations();
        all.extend(self.inner.registry.migrations.iter().copied());
        all
    }

    /// Applies every pending migration, then stores the declared default access policies
    /// (see [`crate::access_policy::seed`]); returns how many migrations were applied.
    pub async fn migrate(&self) -> Result<usize, AppError> {
        self.refuse_unsafe_upgrade().await?;
        let applied = self.db().migrate(&self.migrations()).await?.len();
        crate::access_policy::seed(self.db(), &self.access_policies()).await?;
        let mut permissions = crate::rbac::core_permissions();
        permissions.extend(self.inner.registry.permissions.iter().cloned());
        let mut roles = crate::rbac::core_locked_roles();
        roles.extend(self.inner.registry.locked_roles.iter().cloned());
        crate::rbac::seed(self.db(), &permissions, &roles).await?;
        crate::tasking::sync_schedules(self.db(), &self.task_schedules())
            .await
            .map_err(|e| match e {
                crate::tasking::TaskingError::Database(e) => AppError::Database(e),
                other => AppError::Setting(SettingError::new("task_schedules", other.to_string())),
            })?;
        Ok(applied)
    }

    /// Refuses (naming them) when a pending migration breaks the previous release while
    /// processes of an older release heartbeat.
    async fn refuse_unsafe_upgrade(&self) -> Result<(), AppError> {
        let pending = self.db().pending_migrations(&self.migrations()).await?;
        let Some(breaking) = self
            .migrations()
            .into_iter()
            .filter(|m| m.breaks_previous_release())
            .map(|m| format!("{}.{}", m.app, m.name))
            .find(|name| pending.contains(name))
        else {
            return Ok(());
        };
        let cutoff =
            chrono::Utc::now() - chrono::Duration::seconds(self.settings().worker_ttl as i64);
        let online: Vec<(String, String, sqlx::types::Json<serde_json::Value>)> = crate::on_pool!(self.db(), pool => {
            sqlx::query_as(
                "SELECT name, app_type, versions FROM core_appstatus WHERE last_heartbeat >= $1 ORDER BY name",
            )
            .bind(cutoff)
            .fetch_all(pool)
            .await
            .map_err(DbError::from)?
        });
        let ours = self.component_versions();
        let older: Vec<String> = online
            .into_iter()
            .filter(|(_, _, versions)| runs_older(&versions.0, &ours))
            .map(|(name, app_type, versions)| format!("{name} ({app_type}, {})", versions.0))
            .collect();
        if older.is_empty() {
            return Ok(());
        }
        Err(AppError::UnsafeUpgrade {
            migration: breaking,
            processes: older.join(", "),
        })
    }

    /// The default access policy of every viewset: pulp-core's, then the plugins' (a plugin
    /// declaring a core viewset replaces its default).
    pub fn access_policies(&self) -> Vec<(String, crate::access_policy::AccessPolicy)> {
        let declared = &self.inner.registry.access_policies;
        let mut all: Vec<_> = crate::access_policy::core_access_policies()
            .into_iter()
            .filter(|(name, _)| !declared.iter().any(|(d, _)| d == name))
            .collect();
        all.extend(declared.iter().cloned());
        all
    }

    /// The types of objects roles are assigned on (core's and the declared detail types').
    pub fn object_types(&self) -> Vec<crate::rbac::ObjectType> {
        crate::rbac::types_of(self.detail_types())
    }

    /// The object an href or PRN names, if it is of a type roles are assigned on.
    pub fn object_of_href(
        &self,
        href: &str,
    ) -> Option<(crate::rbac::ObjectType, crate::rbac::ObjectRef)> {
        crate::rbac::object_of_href(self.detail_types(), href)
    }

    /// The default access policy of `viewset_name`, if one is declared.
    pub fn default_access_policy(
        &self,
        viewset_name: &str,
    ) -> Option<crate::access_policy::AccessPolicy> {
        self.access_policies()
            .into_iter()
            .find(|(name, _)| name == viewset_name)
            .map(|(_, policy)| policy)
    }
}
