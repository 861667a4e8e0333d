//! [`Master`], the [`Detail`] trait plugins implement, and [`Model`]: a detail with its master.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Column, ContentKind, MasterKind, RepositoryKind};
use crate::db::PulpId;
use crate::validation::Validate;

/// Name of the default domain (domains proper come later).
pub const DEFAULT_DOMAIN: &str = "default";

/// `pulp_labels`: string keys and values; a label may have no value (`null`, as Pulp's
/// `set_label` with `"value": null` makes).
pub type Labels = std::collections::BTreeMap<String, Option<String>>;

/// A master row: the common fields and the fields of its kind, whatever its detail type.
/// Generic code (list every repository, every content unit) works on masters.
#[derive(Debug, Clone)]
pub struct Master<K: MasterKind> {
    /// Its id.
    pub pulp_id: PulpId,
    /// `<plugin>.<type>` (`file.file`).
    pub pulp_type: String,
    /// When it was created.
    pub pulp_created: DateTime<Utc>,
    /// When it was last changed.
    pub pulp_last_updated: DateTime<Utc>,
    /// Its labels.
    pub pulp_labels: Labels,
    /// Its domain.
    pub pulp_domain: String,
    /// The fields every type of its kind has.
    pub fields: K::Fields,
}

/// A content unit of any type.
pub type Content = Master<ContentKind>;
/// A remote of any type.
pub type Remote = Master<super::RemoteKind>;
/// A repository of any type.
pub type Repository = Master<RepositoryKind>;
/// A publication of any type.
pub type Publication = Master<super::PublicationKind>;
/// A distribution of any type.
pub type Distribution = Master<super::DistributionKind>;
/// A content guard of any type.
pub type ContentGuard = Master<super::ContentGuardKind>;

/// A detail type: what a plugin adds to a master kind (`FileRemote`, `FileContent`…),
/// stored in a table of its own keyed by the master's `pulp_id`.
///
/// The struct's serde fields are its columns ([`Detail::COLUMNS`] says their SQL types);
/// the plugin creates the table in one of its migrations:
/// `CREATE TABLE <TABLE> (pulp_id <UUID|TEXT> PRIMARY KEY REFERENCES <master table> ON DELETE CASCADE, …)`
/// (content tables also have `pulp_domain TEXT NOT NULL`, part of their natural key).
pub trait Detail:
    Serialize + DeserializeOwned + Clone + std::fmt::Debug + Send + Sync + Validate + 'static
{
    /// The master kind it details.
    type Kind: MasterKind;
    /// `<plugin>.<type>`, stored in the master's `pulp_type` (`file.file`).
    const PULP_TYPE: &'static str;
    /// Its table (`file_fileremote`).
    const TABLE: &'static str;
    /// Its columns, besides `pulp_id` (and `pulp_domain` for content).
    const COLUMNS: &'static [Column];
    /// Model name in PRNs, `<app>.<model>` (`file.fileremote` → `prn:file.fileremote:<id>`).
    const PRN_MODEL: &'static str;
    /// Path below the kind in hrefs (`file/file` → `/pulp/api/v3/remotes/file/file/<id>/`;
    /// `file/files` for content → `/pulp/api/v3/content/file/files/<id>/`).
    const ENDPOINT: &'static str;
    /// Exact-match list filters on the detail's columns, `(query parameter, column)`
    /// (FileContent: `("relative_path", "relative_path")`, `("sha256", "digest")`).
    const API_FILTERS: &'static [(&'static str, &'static str)] = &[];
    /// Name of its href parameter in the OpenAPI document when Pulp's is not
    /// `<plugin>_<type>_<kind>_href` (Pulp derives it from the model's class name:
    /// `r_b_a_c_content_guard_href`); empty for the derived one.
    const HREF_PARAM: &'static str = "";
    /// Columns the API shows but never takes from a body (FileRepository:
    /// `last_sync_details`, written by its sync).
    const READ_ONLY_COLUMNS: &'static [&'static str] = &[];

    /// Adjusts the API response of an object of this type (rename or add fields: FileContent
    /// shows its `digest` as `sha256`). The default shows the serde fields as they are.
    fn api_response(_response: &mut serde_json::Map<String, serde_json::Value>) {}
}

/// A content type. Units are unique by natural key within a domain: saving a unit whose
/// key exists returns the existing one.
pub trait ContentDetail: Detail<Kind = ContentKind> {
    /// Columns forming the natural key (FileContent: `relative_path`, `digest`); the plugin's
    /// migration makes them unique together with `pulp_domain`.
    const NATURAL_KEY: &'static [&'static str];
    /// Columns forming the repository key: a repository version holds at most one unit per
    /// repo key, a later one replacing the earlier (FileContent: `relative_path`). Empty: none.
    const REPO_KEY: &'static [&'static str] = &[];
}

/// The table of a detail type as SQL for each backend: what `#[derive(Detail)]` (in
/// `pulp-plugin-api`) generates from the struct, so that the type's migration need not be
/// written by hand. A plugin adds [`DetailTable::migration`] to its migrations; later changes
/// to the struct need a hand-written migration (an applied migration never runs again).
pub trait DetailTable: Detail {
    /// `CREATE TABLE …` (and its indexes) for SQLite.
    const SQLITE_DDL: &'static str;
    /// `CREATE TABLE …` (and its indexes) for PostgreSQL.
    const POSTGRES_DDL: &'static str;

    /// The migration creating the table, named `name` in application `app`.
    fn migration(app: &'static str, name: &'static str) -> crate::db::Migration {
        crate::db::Migration {
            app,
            name,
            sqlite: Self::SQLITE_DDL,
            postgres: Self::POSTGRES_DDL,
        }
    }
}

/// A detail value together with its master: what typed code works with.
#[derive(Debug, Clone)]
pub struct Model<T: Detail> {
    /// The master part.
    pub master: Master<T::Kind>,
    /// The detail part.
    pub detail: T,
}

impl<T: Detail> Model<T> {
    /// The master of this detail.
    pub fn master(&self) -> &Master<T::Kind> {
        &self.master
    }

    /// Its id.
    pub fn pulp_id(&self) -> PulpId {
        self.master.pulp_id
    }

    /// The fields of its kind (e.g. a remote's `url`).
    pub fn fields(&self) -> &<T::Kind as MasterKind>::Fields {
        &self.master.fields
    }

    /// Its API href (`/pulp/api/v3/remotes/file/file/<id>/`).
    pub fn pulp_href(&self) -> String {
        super::href::<T>(self.master.pulp_id)
    }

    /// Its PRN (`prn:file.fileremote:<id>`).
    pub fn prn(&self) -> String {
        super::prn(T::PRN_MODEL, self.master.pulp_id)
    }
}

impl<T: Detail> std::ops::Deref for Model<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.detail
    }
}
