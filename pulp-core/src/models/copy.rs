//! Bulk inserts through PostgreSQL's `COPY … FROM STDIN`: no statement of thousands of
//! parameters to parse and plan, and the server writes the rows of a page in one go (one WAL
//! record per page instead of one per row). `COPY` has no `ON CONFLICT`: callers use it for
//! rows that cannot exist yet and fall back to their `INSERT … ON CONFLICT` when a unique
//! violation says otherwise.
//!
//! The rows go in PostgreSQL's binary format when every value has a binary form for its
//! column's type (ids, times, integers, booleans, floats, text, JSON): the server then reads
//! an id or a time as the bytes it stores instead of parsing its text (the `COPY`s of a sync
//! took a sixth less time). Any other column type makes that `COPY` use the text format.

use std::collections::HashMap;
use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::PgConnection;

use super::error::is_unique_violation;
use super::{ModelError, SqlValue};
use crate::db::{Database, DbTransaction};

/// The rows of one `COPY`, kept as values until the column types are known (the binary
/// format needs them).
#[derive(Debug, Default)]
pub(crate) struct CopyRows {
    values: Vec<SqlValue>,
    width: usize,
    rows: usize,
}

impl CopyRows {
    /// No rows yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends one row (its values in the order of the `COPY`'s columns; every row has as
    /// many).
    pub(crate) fn push(&mut self, values: impl IntoIterator<Item = SqlValue>) {
        let before = self.values.len();
        self.values.extend(values);
        let width = self.values.len() - before;
        debug_assert!(
            self.rows == 0 || width == self.width,
            "rows of one COPY differ in width"
        );
        self.width = width;
        self.rows += 1;
    }

    /// How many rows were appended.
    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    fn rows(&self) -> impl Iterator<Item = &[SqlValue]> {
        self.values.chunks(self.width.max(1)).take(self.rows)
    }

    /// The rows in PostgreSQL's text format.
    fn text(&self) -> Vec<u8> {
        let mut out = TextRows::default();
        for row in self.rows() {
            for (i, value) in row.iter().enumerate() {
                if i > 0 {
                    out.data.push(b'\t');
                }
                out.encode(value);
            }
            out.data.push(b'\n');
        }
        out.data
    }

    /// The rows in PostgreSQL's binary format for columns of `types` (one per value of a
    /// row), or `None` when a value has no binary form for its column's type.
    fn binary(&self, types: &[Option<BinaryType>]) -> Option<Vec<u8>> {
        if types.len() != self.width {
            return None;
        }
        let width = i16::try_from(self.width).ok()?;
        // Header: signature, flags, no header extension.
        let mut data = Vec::with_capacity(19 + self.values.len() * 24);
        data.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        data.extend_from_slice(&0i32.to_be_bytes());
        data.extend_from_slice(&0i32.to_be_bytes());
        for row in self.rows() {
            data.extend_from_slice(&width.to_be_bytes());
            for (value, ty) in row.iter().zip(types) {
                encode_binary(&mut data, value, (*ty)?)?;
            }
        }
        data.extend_from_slice(&(-1i16).to_be_bytes());
        Some(data)
    }
}

/// Column types whose binary form [`CopyRows`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinaryType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `text`, `varchar`, `bpchar` and `json`: the text's bytes.
    Text,
    Jsonb,
    Uuid,
    /// `timestamp` and `timestamptz`: microseconds since 2000-01-01 00:00 UTC.
    Timestamp,
}

impl BinaryType {
    fn of(type_oid: u32) -> Option<Self> {
        Some(match type_oid {
            16 => Self::Bool,
            20 => Self::Int8,
            21 => Self::Int2,
            23 => Self::Int4,
            25 | 114 | 1042 | 1043 => Self::Text,
            700 => Self::Float4,
            701 => Self::Float8,
            1114 | 1184 => Self::Timestamp,
            2950 => Self::Uuid,
            3802 => Self::Jsonb,
            _ => return None,
        })
    }
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Appends one field (length, then bytes; a null is length -1); `None` when `value` has no
/// binary form for `ty`.
fn encode_binary(data: &mut Vec<u8>, value: &SqlValue, ty: BinaryType) -> Option<()> {
    let field = |data: &mut Vec<u8>, bytes: &[u8]| -> Option<()> {
        data.extend_from_slice(&i32::try_from(bytes.len()).ok()?.to_be_bytes());
        data.extend_from_slice(bytes);
        Some(())
    };
    // jsonb's binary form: a version byte (1), then the text.
    let jsonb = |data: &mut Vec<u8>, text: &str| -> Option<()> {
        data.extend_from_slice(&i32::try_from(text.len() + 1).ok()?.to_be_bytes());
        data.push(1);
        data.extend_from_slice(text.as_bytes());
        Some(())
    };
    match (value, ty) {
        (
            SqlValue::Text(None)
            | SqlValue::Int(None)
            | SqlValue::Float(None)
            | SqlValue::Bool(None)
            | SqlValue::Json(None)
            | SqlValue::Id(None)
            | SqlValue::Time(None),
            _,
        ) => data.extend_from_slice(&(-1i32).to_be_bytes()),
        (SqlValue::Text(Some(s)), BinaryType::Text) => field(data, s.as_bytes())?,
        (SqlValue::Text(Some(s)), BinaryType::Jsonb) => jsonb(data, s)?,
        (SqlValue::Json(Some(v)), BinaryType::Text) => field(data, v.to_string().as_bytes())?,
        (SqlValue::Json(Some(v)), BinaryType::Jsonb) => jsonb(data, &v.to_string())?,
        (SqlValue::Int(Some(n)), BinaryType::Int8) => field(data, &n.to_be_bytes())?,
        (SqlValue::Int(Some(n)), BinaryType::Int4) => {
            field(data, &i32::try_from(*n).ok()?.to_be_bytes())?
        }
        (SqlValue::Int(Some(n)), BinaryType::Int2) => {
            field(data, &i16::try_from(*n).ok()?.to_be_bytes())?
        }
        (SqlValue::Float(Some(f)), BinaryType::Float8) => field(data, &f.to_be_bytes())?,
        (SqlValue::Float(Some(f)), BinaryType::Float4) => field(data, &(*f as f32).to_be_bytes())?,
        (SqlValue::Bool(Some(b)), BinaryType::Bool) => field(data, &[u8::from(*b)])?,
        (SqlValue::Id(Some(id)), BinaryType::Uuid) => field(data, id.0.as_bytes())?,
        (SqlValue::Time(Some(t)), BinaryType::Timestamp) => {
            let micros = t.timestamp_micros().checked_sub(POSTGRES_EPOCH_MICROS)?;
            field(data, &micros.to_be_bytes())?
        }
        _ => return None,
    }
    Some(())
}

/// Rows being written in PostgreSQL's text format, into one buffer (no text allocated per
/// value: the rows of a sync batch are thousands of ids and times).
#[derive(Debug, Default)]
struct TextRows {
    data: Vec<u8>,
    /// The last time encoded and its text: the rows of one batch share their times.
    last_time: Option<(DateTime<Utc>, String)>,
}

impl TextRows {
    fn encode(&mut self, value: &SqlValue) {
        match value {
            SqlValue::Text(Some(s)) => self.escaped(s),
            // Writing into a Vec cannot fail.
            SqlValue::Int(Some(n)) => drop(write!(self.data, "{n}")),
            SqlValue::Float(Some(f)) => {
                let text = if f.is_nan() {
                    "NaN".to_string()
                } else if f.is_infinite() {
                    if *f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
                } else {
                    f.to_string()
                };
                self.data.extend(text.as_bytes());
            }
            SqlValue::Bool(Some(b)) => self.data.push(if *b { b't' } else { b'f' }),
            SqlValue::Json(Some(v)) => self.escaped(&v.to_string()),
            SqlValue::Id(Some(id)) => {
                let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
                let text = id.0.hyphenated().encode_lower(&mut text);
                self.data.extend_from_slice(text.as_bytes());
            }
            SqlValue::Time(Some(t)) => {
                if self.last_time.as_ref().map(|(last, _)| last) != Some(t) {
                    self.last_time = Some((*t, t.to_rfc3339_opts(SecondsFormat::Micros, true)));
                }
                if let Some((_, text)) = &self.last_time {
                    self.data.extend_from_slice(text.as_bytes());
                }
            }
            SqlValue::Text(None)
            | SqlValue::Int(None)
            | SqlValue::Float(None)
            | SqlValue::Bool(None)
            | SqlValue::Json(None)
            | SqlValue::Id(None)
            | SqlValue::Time(None) => self.data.extend(b"\\N"),
        }
    }

    /// Text with the characters the format gives a meaning escaped.
    fn escaped(&mut self, s: &str) {
        let special = |b: &u8| matches!(b, b'\\' | b'\t' | b'\n' | b'\r');
        if !s.as_bytes().iter().any(special) {
            self.data.extend_from_slice(s.as_bytes());
            return;
        }
        for &b in s.as_bytes() {
            match b {
                b'\\' => self.data.extend(b"\\\\"),
                b'\t' => self.data.extend(b"\\t"),
                b'\n' => self.data.extend(b"\\n"),
                b'\r' => self.data.extend(b"\\r"),
                _ => self.data.push(b),
            }
        }
    }
}

/// The binary type of each of `columns` of `table` (`None` for a type without one), from
/// the catalog, on the connection that copies (so the table is the one its search path
/// finds).
async fn binary_types(
    conn: &mut PgConnection,
    table: &str,
    columns: &[&str],
) -> Result<Vec<Option<BinaryType>>, sqlx::Error> {
    let found: HashMap<String, u32> = sqlx::query_as::<_, (String, i64)>(
        "SELECT attname::text, atttypid::int8 FROM pg_attribute \
         WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .filter_map(|(name, oid)| Some((name, u32::try_from(oid).ok()?)))
    .collect();
    Ok(columns
        .iter()
        .map(|column| found.get(*column).copied().and_then(BinaryType::of))
        .collect())
}

/// Copies `rows` into `table` (`columns` in the order of each row's values), in the binary
/// format when every value has one; returns how many rows the server stored.
async fn copy_in(
    conn: &mut PgConnection,
    table: &str,
    columns: &[&str],
    rows: CopyRows,
) -> Result<u64, sqlx::Error> {
    if rows.len() == 0 {
        return Ok(0);
    }
    let types = binary_types(conn, table, columns).await?;
    let (data, format) = match rows.binary(&types) {
        Some(data) => (data, " (FORMAT binary)"),
        None => (rows.text(), ""),
    };
    let statement = format!("COPY {table} ({}) FROM STDIN{format}", columns.join(", "));
    let mut copy = conn.copy_in_raw(&statement).await?;
    if let Err(e) = copy.send(data).await {
        // The copy is still open on the connection: end it before reporting.
        let _ = copy.abort(e.to_string()).await;
        return Err(e);
    }
    copy.finish().await
}

/// On PostgreSQL, copies each `(table, columns, rows)` in turn, in one transaction of their
/// own: `true` once committed; `false`, with nothing written, when a row violates a unique
/// constraint (it exists already), and always on SQLite (the caller then upserts).
pub(crate) async fn copy_new_rows(
    db: &Database,
    tables: Vec<(&str, &[&str], CopyRows)>,
) -> Result<bool, ModelError> {
    let mut tx = db.begin_write().await?;
    let DbTransaction::Postgres(conn) = &mut tx else {
        return Ok(false);
    };
    for (table, columns, rows) in tables {
        match copy_in(conn, table, columns, rows).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                tx.rollback().await?;
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        }
    }
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_escapes_separators_and_marks_nulls() {
        let mut rows = CopyRows::new();
        rows.push([
            SqlValue::Text(Some("a\tb\\c\nd\re".into())),
            SqlValue::Text(None),
            SqlValue::Int(Some(-3)),
            SqlValue::Bool(Some(false)),
            SqlValue::Float(Some(f64::NEG_INFINITY)),
            SqlValue::Json(Some(serde_json::json!({"k": "v\t"}))),
        ]);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            String::from_utf8_lossy(&rows.text()),
            "a\\tb\\\\c\\nd\\re\t\\N\t-3\tf\t-Infinity\t{\"k\":\"v\\\\t\"}\n"
        );
    }

    #[test]
    fn ids_times_and_numbers_are_written_as_postgresql_reads_them() {
        let id = crate::db::PulpId(uuid::Uuid::from_u128(
            0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
        ));
        let first = DateTime::parse_from_rfc3339("2026-11-27T04:05:06.789012Z")
            .expect("time")
            .with_timezone(&Utc);
        let second = first + chrono::Duration::microseconds(1);
        let mut rows = CopyRows::new();
        for (time, n) in [(first, i64::MIN), (first, 0), (second, 42)] {
            rows.push([
                SqlValue::Id(Some(id)),
                SqlValue::Time(Some(time)),
                SqlValue::Int(Some(n)),
                SqlValue::Text(Some("plain".into())),
            ]);
        }
        assert_eq!(
            String::from_utf8_lossy(&rows.text()),
            "01234567-89ab-cdef-0123-456789abcdef\t2026-11-27T04:05:06.789012Z\t-9223372036854775808\tplain\n\
             01234567-89ab-cdef-0123-456789abcdef\t2026-11-27T04:05:06.789012Z\t0\tplain\n\
             01234567-89ab-cdef-0123-456789abcdef\t2026-11-27T04:05:06.789013Z\t42\tplain\n"
        );
    }

    #[test]
    fn binary_format_writes_each_value_as_its_column_type_stores_it() {
        let id = crate::db::PulpId(uuid::Uuid::from_u128(
            0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
        ));
        // One second and one microsecond after PostgreSQL's epoch.
        let time = DateTime::parse_from_rfc3339("2000-01-01T00:00:01.000001Z")
            .expect("time")
            .with_timezone(&Utc);
        let mut rows = CopyRows::new();
        rows.push([
            SqlValue::Id(Some(id)),
            SqlValue::Time(Some(time)),
            SqlValue::Int(Some(-2)),
            SqlValue::Int(Some(7)),
            SqlValue::Bool(Some(true)),
            SqlValue::Text(Some("ab".into())),
            SqlValue::Json(Some(serde_json::json!({}))),
            SqlValue::Text(None),
        ]);
        let types = [
            BinaryType::Uuid,
            BinaryType::Timestamp,
            BinaryType::Int4,
            BinaryType::Int8,
            BinaryType::Bool,
            BinaryType::Text,
            BinaryType::Jsonb,
            BinaryType::Uuid,
        ]
        .map(Some);
        let data = rows.binary(&types).expect("every value has a binary form");
        let mut expected = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
        expected.extend([0, 8]);
        expected.extend([0, 0, 0, 16]);
        expected.extend(1..=16u8);
        expected.extend([0, 0, 0, 8]);
        expected.extend(1_000_001i64.to_be_bytes());
        expected.extend([0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe]);
        expected.extend([0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7]);
        expected.extend([0, 0, 0, 1, 1]);
        expected.extend([0, 0, 0, 2, b'a', b'b']);
        expected.extend([0, 0, 0, 3, 1, b'{', b'}']);
        expected.extend([0xff, 0xff, 0xff, 0xff]);
        expected.extend([0xff, 0xff]);
        assert_eq!(data, expected);
    }

    #[test]
    fn binary_format_is_refused_for_a_value_it_cannot_write() {
        let one = |value: SqlValue, ty: Option<BinaryType>| {
            let mut rows = CopyRows::new();
            rows.push([value]);
            rows.binary(&[ty])
        };
        // A column type without a binary form here (numeric, say).
        assert!(one(SqlValue::Int(Some(1)), None).is_none());
        // A value that does not fit its column.
        assert!(one(SqlValue::Int(Some(40_000)), Some(BinaryType::Int2)).is_none());
        assert!(one(SqlValue::Text(Some("x".into())), Some(BinaryType::Uuid)).is_none());
        // Types for a different number of columns.
        let mut rows = CopyRows::new();
        rows.push([SqlValue::Int(Some(1)), SqlValue::Int(Some(2))]);
        assert!(rows.binary(&[Some(BinaryType::Int8)]).is_none());
        // A null fits any column.
        assert!(one(SqlValue::Text(None), Some(BinaryType::Uuid)).is_some());
    }
}

#[cfg(all(test, feature = "testing"))]
mod database_tests {
    use super::*;
    use crate::testing::TestDatabase;

    const COLUMNS: &[&str] = &[
        "id", "t", "i2", "i4", "i8", "b", "f4", "f8", "txt", "vc", "js", "jsb",
    ];

    async fn create_tables(db: &Database) {
        for sql in [
            "CREATE TABLE copy_all (id uuid PRIMARY KEY, t timestamptz, i2 smallint, i4 integer, \
             i8 bigint, b boolean, f4 real, f8 double precision, txt text, vc varchar(20), \
             js json, jsb jsonb)",
            // numeric has no binary form here: such a table is copied in the text format.
            "CREATE TABLE copy_numeric (id uuid PRIMARY KEY, n numeric, note text)",
        ] {
            crate::on_pool!(db, pool => {
                sqlx::query(sql).execute(pool).await.expect("create table");
            });
        }
    }

    fn all_types_row(id: uuid::Uuid, time: DateTime<Utc>, text: &str) -> Vec<SqlValue> {
        vec![
            SqlValue::Id(Some(crate::db::PulpId(id))),
            SqlValue::Time(Some(time)),
            SqlValue::Int(Some(-7)),
            SqlValue::Int(Some(70_000)),
            SqlValue::Int(Some(i64::MAX)),
            SqlValue::Bool(Some(false)),
            SqlValue::Float(Some(1.5)),
            SqlValue::Float(Some(-0.25)),
            SqlValue::Text(Some(text.into())),
            SqlValue::Text(None),
            SqlValue::Json(Some(serde_json::json!({"a": [1, "b"]}))),
            SqlValue::Json(Some(serde_json::json!({"k": "v\t"}))),
        ]
    }

    type AllTypes = (
        uuid::Uuid,
        DateTime<Utc>,
        i16,
        i32,
        i64,
        bool,
        f32,
        f64,
        String,
        Option<String>,
        serde_json::Value,
        serde_json::Value,
    );

    async fn check(t: &TestDatabase) {
        let db = &t.db;
        create_tables(db).await;
        let time = DateTime::parse_from_rfc3339("2026-11-27T04:05:06.789012Z")
            .expect("time")
            .with_timezone(&Utc);
        let (first, second) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let mut rows = CopyRows::new();
        rows.push(all_types_row(first, time, "tab\tand\\backslash"));
        rows.push(all_types_row(second, time, "ünïcode"));
        let mut numeric = CopyRows::new();
        numeric.push([
            SqlValue::Id(Some(crate::db::PulpId(first))),
            SqlValue::Int(Some(12)),
            SqlValue::Text(Some("x\ny".into())),
        ]);
        let copied = copy_new_rows(
            db,
            vec![
                ("copy_all", COLUMNS, rows),
                ("copy_numeric", &["id", "n", "note"], numeric),
            ],
        )
        .await
        .expect("copy");
        let Database::Postgres(pool) = db else {
            // SQLite has no COPY: nothing is written and the caller inserts instead.
            assert!(!copied);
            return;
        };
        assert!(copied);
        // The first table went in the binary format, the second (numeric) in the text one.
        let mut conn = pool.acquire().await.expect("connection");
        use BinaryType::*;
        assert_eq!(
            binary_types(&mut conn, "copy_all", COLUMNS)
                .await
                .expect("types"),
            [Uuid, Timestamp, Int2, Int4, Int8, Bool, Float4, Float8, Text, Text, Text, Jsonb]
                .map(Some)
                .to_vec()
        );
        assert_eq!(
            binary_types(&mut conn, "copy_numeric", &["id", "n", "note"])
                .await
                .expect("types"),
            vec![Some(Uuid), None, Some(Text)]
        );
        drop(conn);
        let stored: Vec<AllTypes> = sqlx::query_as(
            "SELECT id, t, i2, i4, i8, b, f4, f8, txt, vc, js, jsb FROM copy_all ORDER BY id",
        )
        .fetch_all(pool)
        .await
        .expect("read back");
        let expected = |id, text: &str| -> AllTypes {
            (
                id,
                time,
                -7,
                70_000,
                i64::MAX,
                false,
                1.5,
                -0.25,
                text.to_string(),
                None,
                serde_json::json!({"a": [1, "b"]}),
                serde_json::json!({"k": "v\t"}),
            )
        };
        assert_eq!(
            stored,
            vec![
                expected(first, "tab\tand\\backslash"),
                expected(second, "ünïcode")
            ]
        );
        let (n, note): (String, String) = sqlx::query_as("SELECT n::text, note FROM copy_numeric")
            .fetch_one(pool)
            .await
            .expect("read back numeric");
        assert_eq!((n.as_str(), note.as_str()), ("12", "x\ny"));

        // A row that exists already: nothing of the call is written, and it says so.
        let mut fresh = CopyRows::new();
        let third = uuid::Uuid::now_v7();
        fresh.push(all_types_row(third, time, "new"));
        let mut again = CopyRows::new();
        again.push(all_types_row(first, time, "again"));
        let copied = copy_new_rows(
            db,
            vec![("copy_all", COLUMNS, fresh), ("copy_all", COLUMNS, again)],
        )
        .await
        .expect("copy");
        assert!(!copied);
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM copy_all")
            .fetch_one(pool)
            .await
            .expect("count");
        assert_eq!(count, 2);
    }

    crate::db_tests! {
        async fn copies_rows_of_every_column_type_and_nothing_on_conflict(t: &TestDatabase) {
            check(t).await;
        }
    }
}
