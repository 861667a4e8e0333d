//! Bulk inserts through PostgreSQL's `COPY … FROM STDIN` (text format): no statement of
//! thousands of parameters to parse and plan, and the server writes the rows of a page in one
//! go (one WAL record per page instead of one per row). `COPY` has no `ON CONFLICT`: callers
//! use it for rows that cannot exist yet and fall back to their `INSERT … ON CONFLICT` when a
//! unique violation says otherwise.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::PgConnection;

use super::error::is_unique_violation;
use super::{ModelError, SqlValue};
use crate::db::{Database, DbTransaction};

/// Rows encoded for `COPY … FROM STDIN` in PostgreSQL's text format, written straight into
/// one buffer (no text allocated per value: the rows of a sync batch are thousands of ids and
/// times).
#[derive(Debug, Default)]
pub(crate) struct CopyRows {
    data: Vec<u8>,
    rows: usize,
    /// The last time encoded and its text: the rows of one batch share their times.
    last_time: Option<(DateTime<Utc>, String)>,
}

impl CopyRows {
    /// No rows yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends one row (its values in the order of the `COPY`'s columns).
    pub(crate) fn push(&mut self, values: impl IntoIterator<Item = SqlValue>) {
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.data.push(b'\t');
            }
            self.encode(value);
        }
        self.data.push(b'\n');
        self.rows += 1;
    }

    /// How many rows were appended.
    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    fn encode(&mut self, value: SqlValue) {
        match value {
            SqlValue::Text(Some(s)) => self.escaped(&s),
            // Writing into a Vec cannot fail.
            SqlValue::Int(Some(n)) => drop(write!(self.data, "{n}")),
            SqlValue::Float(Some(f)) => {
                let text = if f.is_nan() {
                    "NaN".to_string()
                } else if f.is_infinite() {
                    if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
                } else {
                    f.to_string()
                };
                self.data.extend(text.as_bytes());
            }
            SqlValue::Bool(Some(b)) => self.data.push(if b { b't' } else { b'f' }),
            SqlValue::Json(Some(v)) => self.escaped(&v.to_string()),
            SqlValue::Id(Some(id)) => {
                let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
                let text = id.0.hyphenated().encode_lower(&mut text);
                self.data.extend_from_slice(text.as_bytes());
            }
            SqlValue::Time(Some(t)) => {
                if self.last_time.as_ref().map(|(last, _)| *last) != Some(t) {
                    self.last_time = Some((t, t.to_rfc3339_opts(SecondsFormat::Micros, true)));
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

/// Copies `rows` into `table` (`columns` in the order of each row's values); returns how
/// many rows the server stored.
async fn copy_in(
    conn: &mut PgConnection,
    table: &str,
    columns: &[&str],
    rows: CopyRows,
) -> Result<u64, sqlx::Error> {
    if rows.len() == 0 {
        return Ok(0);
    }
    let statement = format!("COPY {table} ({}) FROM STDIN", columns.join(", "));
    let mut copy = conn.copy_in_raw(&statement).await?;
    if let Err(e) = copy.send(rows.data).await {
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
            String::from_utf8_lossy(&rows.data),
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
            String::from_utf8_lossy(&rows.data),
            "01234567-89ab-cdef-0123-456789abcdef\t2026-11-27T04:05:06.789012Z\t-9223372036854775808\tplain\n\
             01234567-89ab-cdef-0123-456789abcdef\t2026-11-27T04:05:06.789012Z\t0\tplain\n\
             01234567-89ab-cdef-0123-456789abcdef\t2026-11-27T04:05:06.789013Z\t42\tplain\n"
        );
    }
}
