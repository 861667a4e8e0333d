//! Bulk inserts through PostgreSQL's `COPY … FROM STDIN` (text format): no statement of
//! thousands of parameters to parse and plan, and the server writes the rows of a page in one
//! go (one WAL record per page instead of one per row). `COPY` has no `ON CONFLICT`: callers
//! use it for rows that cannot exist yet and fall back to their `INSERT … ON CONFLICT` when a
//! unique violation says otherwise.

use chrono::SecondsFormat;
use sqlx::PgConnection;

use super::error::is_unique_violation;
use super::{ModelError, SqlValue};
use crate::db::{Database, DbTransaction};

/// Rows encoded for `COPY … FROM STDIN` in PostgreSQL's text format.
#[derive(Debug, Default)]
pub(crate) struct CopyRows {
    data: Vec<u8>,
    rows: usize,
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
            SqlValue::Int(Some(n)) => self.data.extend(n.to_string().as_bytes()),
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
            SqlValue::Id(Some(id)) => self.data.extend(id.to_string().as_bytes()),
            SqlValue::Time(Some(t)) => self
                .data
                .extend(t.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes()),
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
}
