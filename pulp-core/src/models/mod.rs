//! Master/detail models: the six master kinds (content, remote, repository, publication,
//! distribution, content guard) with their common fields, the [`Detail`] types plugins add
//! (each in a table of its own, keyed by the master's id), artifacts and their links to
//! content, and Pulp's hrefs and response shapes.
//!
//! Generic code works on [`Master`]s (`list_masters::<RepositoryKind>`); typed code on
//! [`Model<T>`] (`get::<FileRepository>`); `master.cast::<T>(db)` goes from one to the other
//! and fails with [`ModelError::WrongType`] when the master is of another type.

mod artifact;
mod column;
mod copy;
mod error;
mod href;
mod kind;
mod master;
mod single_artifact;
pub(crate) mod sql;
mod store;

pub use artifact::{
    artifacts_by_id, content_artifacts, create_content_artifacts, create_remote_artifacts,
    find_artifact, find_artifacts, forget_artifacts, remote_artifacts, save_artifact,
    save_artifacts, save_content_artifacts, save_remote_artifacts, Artifact, ContentArtifact,
    RemoteArtifact,
};
pub use column::{from_values, to_values, Column, ColumnType, SqlValue};
pub use error::ModelError;
pub use href::{
    artifact_id_from_href, href, id_from_href, prn, to_response, version_from_href, version_href,
};
pub use kind::{
    kind_facts, ContentFields, ContentGuardFields, ContentGuardKind, ContentKind,
    DistributionFields, DistributionKind, KindFacts, KindReference, MasterKind, Policy,
    PublicationFields, PublicationKind, ReferenceTarget, RemoteField, RemoteFields, RemoteKind,
    RepositoryFields, RepositoryKind, REMOTE_FIELDS, REMOTE_SECRET_FIELDS,
};
pub use master::{
    Content, ContentDetail, ContentGuard, Detail, DetailTable, Distribution, Labels, Master, Model,
    Publication, Remote, Repository, DEFAULT_DOMAIN,
};
pub use single_artifact::SingleArtifactContent;
pub use store::get_many_of_type;
pub use store::{
    count, create, delete, find_content, get, get_many, get_master, list, list_masters,
    save_content, save_new_content, update,
};
