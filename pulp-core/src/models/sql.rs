//! Small helpers building SQL text for column lists and placeholders.

use super::{Column, ColumnType, SqlValue};
use crate::db::Backend;

/// The common columns of every master table, in order.
pub(crate) const COMMON: &[Column] = &[
    Column::id("pulp_id"),
    Column::text("pulp_type"),
    Column::time("pulp_created"),
    Column::time("pulp_last_updated"),
    Column::json("pulp_labels"),
    Column::text("pulp_domain"),
];

/// `a.x, a.y, …`
pub(crate) fn qualified(alias: &str, columns: &[Column]) -> Vec<String> {
    columns
        .iter()
        .map(|c| format!("{alias}.{}", c.name))
        .collect()
}

/// The types of `columns`.
pub(crate) fn types(columns: &[&[Column]]) -> Vec<ColumnType> {
    columns
        .iter()
        .flat_map(|cs| cs.iter().map(|c| c.ty))
        .collect()
}

/// `($first, $first+1, …), (…)` for `rows` rows of `width` values.
pub(crate) fn values_rows(first: usize, rows: usize, width: usize) -> String {
    let mut out = String::with_capacity(rows * width * 6);
    let mut n = first;
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..width {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&n.to_string());
            n += 1;
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, …` (`count` placeholders).
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Most values bound to one statement (SQLite's limit is 32766; PostgreSQL's 65535).
pub(crate) const MAX_BINDS: usize = 30_000;

/// How many rows of `width` values fit in one statement.
pub(crate) fn rows_per_statement(width: usize) -> usize {
    (MAX_BINDS / width.max(1)).clamp(1, 5_000)
}

/// The statement `sql` (written with `$n` placeholders) and its values as `backend` runs
/// them best. On SQLite, `$n` names are looked up linearly (by SQLite when preparing, and
/// by sqlx when binding), which makes a statement with thousands of values quadratic; there
/// each `$n` becomes an anonymous `?` and the values are listed in order of appearance.
pub(crate) fn native(
    backend: Backend,
    sql: &str,
    values: Vec<SqlValue>,
) -> (String, Vec<SqlValue>) {
    if backend == Backend::Postgres {
        return (sql.to_string(), values);
    }
    let mut out = String::with_capacity(sql.len());
    let mut ordered = Vec::with_capacity(values.len());
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() && bytes[i + 1].is_ascii_digit() {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            let n: usize = sql[start..end].parse().unwrap_or(0);
            ordered.push(
                values
                    .get(n.wrapping_sub(1))
                    .cloned()
                    .unwrap_or(SqlValue::Text(None)),
            );
            out.push('?');
            i = end;
        } else {
            let ch = sql[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    (out, ordered)
}

/// Most values a statement may bind and still be kept prepared on its connection.
///
/// Bulk statements list one placeholder group per row, so their text changes with the
/// number of rows, and each text is a statement of its own in the connection's cache (sqlx
/// keeps 100 per connection). On SQLite the prepared statement lives in this process and
/// grows with its placeholders: cached on every pooled connection, for every row count a
/// sync happened to use, they held ≈ 10 MiB after a 100,000-file sync. Statements past this
/// many values are prepared for one use on SQLite, which costs little next to the rows they
/// write; PostgreSQL keeps them (in the server's memory).
pub(crate) const MAX_CACHED_BINDS: usize = 64;

/// Builds `$query($sql)` for `$backend` (see [`native`]), binds every value of `$values`
/// (an iterator of [`SqlValue`]) and evaluates `$tail` with the query as `$q`. On SQLite a
/// statement with more than [`MAX_CACHED_BINDS`] values is not kept prepared.
macro_rules! bind_all {
    ($backend:expr, $query:path, $sql:expr, $values:expr, |$q:ident| $tail:expr) => {{
        let (sql, values) =
            $crate::models::sql::native($backend, $sql, $values.into_iter().collect());
        let keep = $backend == $crate::db::Backend::Postgres
            || values.len() <= $crate::models::sql::MAX_CACHED_BINDS;
        let mut $q = $query(&sql).persistent(keep);
        for value in values {
            $q = $q.bind(value);
        }
        $tail
    }};
}

/// Reads the columns of `$types` (a slice of [`ColumnType`]) from `$row`, in order.
macro_rules! read_values {
    ($row:expr, $types:expr) => {{
        let types: &[$crate::models::ColumnType] = $types;
        let mut out = Vec::with_capacity(types.len());
        let mut failure = None;
        for (i, ty) in types.iter().enumerate() {
            match $crate::__read_column!($row, i, *ty) {
                Ok(v) => out.push(v),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }};
}

pub(crate) use bind_all;
pub(crate) use read_values;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_statements_use_anonymous_placeholders_in_order_of_appearance() {
        let values = vec![
            SqlValue::Int(Some(1)),
            SqlValue::Int(Some(2)),
            SqlValue::Int(Some(3)),
        ];
        let (sql, ordered) = native(
            Backend::Sqlite,
            "a = $1 AND b = $3 AND c IN ($2, $1) AND d = '$'",
            values.clone(),
        );
        assert_eq!(sql, "a = ? AND b = ? AND c IN (?, ?) AND d = '$'");
        assert_eq!(ordered, [1, 3, 2, 1].map(|n| SqlValue::Int(Some(n))));
        let (sql, same) = native(Backend::Postgres, "a = $1", values.clone());
        assert_eq!((sql.as_str(), same), ("a = $1", values));
    }

    #[test]
    fn placeholder_lists() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(values_rows(1, 2, 2), "($1, $2), ($3, $4)");
        assert_eq!(rows_per_statement(6), 5_000);
        assert_eq!(rows_per_statement(10), 3_000);
    }
}

#[cfg(all(test, feature = "testing"))]
mod database_tests {
    use super::*;
    use sqlx::Connection;

    /// `SELECT 1 WHERE 0 NOT IN ($1, …, $n)` and its `n` values.
    fn statement(n: usize) -> (String, Vec<SqlValue>) {
        let sql = format!("SELECT 1 WHERE 0 NOT IN ({})", placeholders(1, n));
        (
            sql,
            (1..=n as i64).map(|i| SqlValue::Int(Some(i))).collect(),
        )
    }

    crate::db_tests! {
        async fn statements_with_many_values_are_not_kept_prepared_on_sqlite(t: &TestDatabase) {
            let backend = t.db.backend();
            crate::on_pool!(&t.db, pool => {
                let mut conn = pool.acquire().await.expect("connection");
                let before = conn.cached_statements_size();
                let (small, values) = statement(2);
                bind_all!(backend, sqlx::query, &small, values, |q| q
                    .execute(&mut *conn)
                    .await
                    .expect("small statement"));
                assert_eq!(conn.cached_statements_size(), before + 1);
                let (big, values) = statement(MAX_CACHED_BINDS + 1);
                bind_all!(backend, sqlx::query, &big, values, |q| q
                    .execute(&mut *conn)
                    .await
                    .expect("big statement"));
                // PostgreSQL keeps them (in the server's memory, not this process's).
                let kept = usize::from(backend == Backend::Postgres);
                assert_eq!(conn.cached_statements_size(), before + 1 + kept);
            });
        }
    }
}
