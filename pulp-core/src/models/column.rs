//! Columns of master and detail tables, described once and bound or read on either backend.
//!
//! A model's fields are a serde struct; its [`Column`]s say which field goes into which
//! column and with which SQL type. Values travel as [`SqlValue`], which binds as the natural
//! type of each backend (UUID/JSONB/TIMESTAMPTZ on PostgreSQL, TEXT on SQLite).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo};
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo};
use sqlx::types::Json;
use sqlx::{Encode, Postgres, Sqlite, Type};

use super::ModelError;
use crate::db::PulpId;

/// The SQL type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `TEXT` (a JSON string).
    Text,
    /// `BIGINT` (a JSON integer).
    Int,
    /// `DOUBLE PRECISION` / `REAL` (a JSON number).
    Float,
    /// `BOOLEAN`.
    Bool,
    /// `JSONB` / `TEXT` holding JSON (any JSON value).
    Json,
    /// A `pulp_id` reference: `UUID` / `TEXT` (a JSON string holding a UUID).
    Id,
    /// `TIMESTAMPTZ` / `TEXT` (a JSON RFC 3339 string).
    Time,
}

/// A column: the serde field `name` stored in the SQL column of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Field and column name.
    pub name: &'static str,
    /// Its SQL type.
    pub ty: ColumnType,
}

impl Column {
    /// A `TEXT` column.
    pub const fn text(name: &'static str) -> Self {
        Self {
            name,
            ty: ColumnType::Text,
        }
    }
    /// A `BIGINT` column.
    pub const fn int(name: &'static str) -> Self {
        Self {
            name,
            ty: ColumnType::Int,
        }
    }
    /// A floating-point column.
    pub const fn float(name: &'static str) -> Self {
        Self {
            name,
            ty: ColumnType::Float,
        }
    }
    /// A `BOOLEAN` column.
    pub const fn bool(name: &'static str) -> Self {
        Self {
            name,
            ty: ColumnType::Bool,
        }
    }
    /// A JSON column.
    pub const fn json(name: &'static str) -> Self {
        Self {
            name,
            ty: ColumnType::Json,
        }
    }
    /// A column holding the `pulp_id` of another row.
    pub const fn id(name: &'static str) -> Self {
        Self {
            name,
            ty: ColumnType::Id,
        }
    }
    /// A timestamp column.
    pub const fn time(name: &'static str) -> Self {
        Self {
            name,
            ty: ColumnType::Time,
        }
    }
}

/// One value bound to a statement; `None` is SQL `NULL`.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// Text.
    Text(Option<String>),
    /// Integer.
    Int(Option<i64>),
    /// Floating point.
    Float(Option<f64>),
    /// Boolean.
    Bool(Option<bool>),
    /// JSON.
    Json(Option<Value>),
    /// An id.
    Id(Option<PulpId>),
    /// A time.
    Time(Option<DateTime<Utc>>),
}

impl SqlValue {
    /// Converts the JSON value of field `column.name` to what the column stores.
    pub fn from_json(column: &Column, value: &Value) -> Result<SqlValue, ModelError> {
        let wrong = || ModelError::Encode {
            field: column.name.to_string(),
            message: format!("{value} is not a valid {:?} value", column.ty),
        };
        if value.is_null() {
            return Ok(match column.ty {
                ColumnType::Text => SqlValue::Text(None),
                ColumnType::Int => SqlValue::Int(None),
                ColumnType::Float => SqlValue::Float(None),
                ColumnType::Bool => SqlValue::Bool(None),
                ColumnType::Json => SqlValue::Json(None),
                ColumnType::Id => SqlValue::Id(None),
                ColumnType::Time => SqlValue::Time(None),
            });
        }
        Ok(match column.ty {
            ColumnType::Text => SqlValue::Text(Some(value.as_str().ok_or_else(wrong)?.to_string())),
            ColumnType::Int => SqlValue::Int(Some(value.as_i64().ok_or_else(wrong)?)),
            ColumnType::Float => SqlValue::Float(Some(value.as_f64().ok_or_else(wrong)?)),
            ColumnType::Bool => SqlValue::Bool(Some(value.as_bool().ok_or_else(wrong)?)),
            ColumnType::Json => SqlValue::Json(Some(value.clone())),
            ColumnType::Id => {
                let text = value.as_str().ok_or_else(wrong)?;
                SqlValue::Id(Some(PulpId(
                    uuid::Uuid::parse_str(text).map_err(|_| wrong())?,
                )))
            }
            ColumnType::Time => {
                let text = value.as_str().ok_or_else(wrong)?;
                let time = DateTime::parse_from_rfc3339(text).map_err(|_| wrong())?;
                SqlValue::Time(Some(time.with_timezone(&Utc)))
            }
        })
    }

    /// The JSON value of what was read from a column.
    pub fn into_json(self) -> Value {
        match self {
            SqlValue::Text(v) => v.map(Value::String).unwrap_or(Value::Null),
            SqlValue::Int(v) => v.map(Value::from).unwrap_or(Value::Null),
            SqlValue::Float(v) => v.map(Value::from).unwrap_or(Value::Null),
            SqlValue::Bool(v) => v.map(Value::Bool).unwrap_or(Value::Null),
            SqlValue::Json(v) => v.unwrap_or(Value::Null),
            SqlValue::Id(v) => v
                .map(|id| Value::String(id.to_string()))
                .unwrap_or(Value::Null),
            SqlValue::Time(v) => v
                .map(|t| Value::String(crate::wire::timestamp::format(&t)))
                .unwrap_or(Value::Null),
        }
    }
}

/// Splits a serde struct into one [`SqlValue`] per column, in column order.
pub fn to_values<T: serde::Serialize>(
    fields: &T,
    columns: &[Column],
) -> Result<Vec<SqlValue>, ModelError> {
    let value = serde_json::to_value(fields).map_err(|e| ModelError::Encode {
        field: String::new(),
        message: e.to_string(),
    })?;
    let empty = serde_json::Map::new();
    let map = value.as_object().unwrap_or(&empty);
    columns
        .iter()
        .map(|c| SqlValue::from_json(c, map.get(c.name).unwrap_or(&Value::Null)))
        .collect()
}

/// Builds a serde struct from the values read for `columns`.
pub fn from_values<T: serde::de::DeserializeOwned>(
    columns: &[Column],
    values: Vec<SqlValue>,
) -> Result<T, ModelError> {
    let map: serde_json::Map<String, Value> = columns
        .iter()
        .zip(values)
        .map(|(c, v)| (c.name.to_string(), v.into_json()))
        .collect();
    serde_json::from_value(Value::Object(map)).map_err(|e| ModelError::Decode(e.to_string()))
}

/// Reads column `$index` of `$row` as `$ty` ([`ColumnType`]) into a [`SqlValue`]; usable in
/// an [`on_pool!`](crate::on_pool) body (compiled for each backend).
#[macro_export]
#[doc(hidden)]
macro_rules! __read_column {
    ($row:expr, $index:expr, $ty:expr) => {{
        use sqlx::Row as _;
        use $crate::models::{ColumnType, SqlValue};
        let row = $row;
        let index: usize = $index;
        match $ty {
            ColumnType::Text => row.try_get::<Option<String>, _>(index).map(SqlValue::Text),
            ColumnType::Int => row.try_get::<Option<i64>, _>(index).map(SqlValue::Int),
            ColumnType::Float => row.try_get::<Option<f64>, _>(index).map(SqlValue::Float),
            ColumnType::Bool => row.try_get::<Option<bool>, _>(index).map(SqlValue::Bool),
            ColumnType::Json => row
                .try_get::<Option<sqlx::types::Json<serde_json::Value>>, _>(index)
                .map(|v| SqlValue::Json(v.map(|j| j.0))),
            ColumnType::Id => row
                .try_get::<Option<$crate::db::PulpId>, _>(index)
                .map(SqlValue::Id),
            ColumnType::Time => row
                .try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(index)
                .map(SqlValue::Time),
        }
    }};
}

impl Type<Sqlite> for SqlValue {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(_: &SqliteTypeInfo) -> bool {
        true
    }
}

impl<'q> Encode<'q, Sqlite> for SqlValue {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        match self {
            SqlValue::Text(v) => <Option<String> as Encode<'q, Sqlite>>::encode_by_ref(v, buf),
            SqlValue::Int(v) => <Option<i64> as Encode<'q, Sqlite>>::encode_by_ref(v, buf),
            SqlValue::Float(v) => <Option<f64> as Encode<'q, Sqlite>>::encode_by_ref(v, buf),
            SqlValue::Bool(v) => <Option<bool> as Encode<'q, Sqlite>>::encode_by_ref(v, buf),
            SqlValue::Json(v) => {
                let v = v.as_ref().map(|j| Json(j.clone()));
                <Option<Json<Value>> as Encode<'q, Sqlite>>::encode(v, buf)
            }
            SqlValue::Id(v) => <Option<PulpId> as Encode<'q, Sqlite>>::encode_by_ref(v, buf),
            SqlValue::Time(v) => {
                <Option<DateTime<Utc>> as Encode<'q, Sqlite>>::encode_by_ref(v, buf)
            }
        }
    }
}

impl Type<Postgres> for SqlValue {
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }
    fn compatible(_: &PgTypeInfo) -> bool {
        true
    }
}

impl Encode<'_, Postgres> for SqlValue {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match self {
            SqlValue::Text(v) => <Option<String> as Encode<'_, Postgres>>::encode_by_ref(v, buf),
            SqlValue::Int(v) => <Option<i64> as Encode<'_, Postgres>>::encode_by_ref(v, buf),
            SqlValue::Float(v) => <Option<f64> as Encode<'_, Postgres>>::encode_by_ref(v, buf),
            SqlValue::Bool(v) => <Option<bool> as Encode<'_, Postgres>>::encode_by_ref(v, buf),
            SqlValue::Json(v) => {
                let v = v.as_ref().map(Json);
                <Option<Json<&Value>> as Encode<'_, Postgres>>::encode_by_ref(&v, buf)
            }
            SqlValue::Id(v) => <Option<PulpId> as Encode<'_, Postgres>>::encode_by_ref(v, buf),
            SqlValue::Time(v) => {
                <Option<DateTime<Utc>> as Encode<'_, Postgres>>::encode_by_ref(v, buf)
            }
        }
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(match self {
            SqlValue::Text(_) => <String as Type<Postgres>>::type_info(),
            SqlValue::Int(_) => <i64 as Type<Postgres>>::type_info(),
            SqlValue::Float(_) => <f64 as Type<Postgres>>::type_info(),
            SqlValue::Bool(_) => <bool as Type<Postgres>>::type_info(),
            SqlValue::Json(_) => <Json<Value> as Type<Postgres>>::type_info(),
            SqlValue::Id(_) => <uuid::Uuid as Type<Postgres>>::type_info(),
            SqlValue::Time(_) => <DateTime<Utc> as Type<Postgres>>::type_info(),
        })
    }
}
