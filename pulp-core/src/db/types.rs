//! Column types that map to the natural type of each backend.

use serde::{Deserialize, Serialize};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};
use uuid::Uuid;

/// A `pulp_id`: `UUID` on PostgreSQL, hyphenated `TEXT` on SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PulpId(pub Uuid);

impl PulpId {
    /// A new id: a time-ordered UUID (version 7), so rows created together sit together in
    /// every index keyed by id (bulk inserts touch few index pages instead of one per row).
    pub fn new() -> Self {
        PulpId(Uuid::now_v7())
    }
}

impl Default for PulpId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for PulpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Type<Sqlite> for PulpId {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for PulpId {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <String as Encode<'q, Sqlite>>::encode(self.0.hyphenated().to_string(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for PulpId {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<'r, Sqlite>>::decode(value)?;
        Ok(PulpId(Uuid::parse_str(text)?))
    }
}

impl Type<Postgres> for PulpId {
    fn type_info() -> PgTypeInfo {
        <Uuid as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for PulpId {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <Uuid as Encode<'_, Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for PulpId {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(PulpId(<Uuid as Decode<'r, Postgres>>::decode(value)?))
    }
}
