//! List endpoints: query parameters, filters compiled to SQL with binds, pagination in Pulp's
//! shape (`count`, `next`, `previous`, `results`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ApiError;
use crate::db::{Backend, PulpId};

/// Pulp's default page size.
pub const DEFAULT_LIMIT: i64 = 100;
/// The largest page served.
pub const MAX_LIMIT: i64 = 5000;

/// The query parameters of a request, in order (names may repeat).
#[derive(Debug, Clone, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        QueryParams(
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Parameters from `(name, value)` pairs.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        QueryParams(pairs)
    }

    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, comma-separated values split.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
            })
            .collect()
    }

    /// Whether a parameter named `name` or `name__<lookup>` is present.
    pub fn has_prefix(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| {
            k == name
                || k.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with("__"))
        })
    }

    /// The raw query without `limit`/`offset`, for building page links.
    fn without_paging(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| k != "limit" && k != "offset")
            .cloned()
            .collect()
    }
}

/// A value bound to a placeholder: the models' one type of SQL value (`None` is `NULL`).
pub use crate::models::SqlValue;

/// `WHERE` clauses with their bound values; `?` in a clause becomes the next `$n`.
#[derive(Debug, Clone)]
pub struct SqlWhere {
    backend: Backend,
    clauses: Vec<String>,
    values: Vec<SqlValue>,
}

impl SqlWhere {
    /// An empty filter for `backend`.
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            clauses: Vec::new(),
            values: Vec::new(),
        }
    }

    /// The backend the SQL is for.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Adds a clause; each `?` in it takes the next of `values` (as many as there are `?`).
    pub fn add(&mut self, clause: &str, values: impl IntoIterator<Item = SqlValue>) {
        let mut values = values.into_iter();
        let mut sql = String::with_capacity(clause.len() + 8);
        for ch in clause.chars() {
            if ch == '?' {
                let value = values.next();
                debug_assert!(
                    value.is_some(),
                    "fewer values than placeholders in {clause}"
                );
                self.values
                    .push(value.unwrap_or(SqlValue::Text(Some(String::new()))));
                sql.push_str(&format!("${}", self.values.len()));
            } else {
                sql.push(ch);
            }
        }
        debug_assert!(
            values.next().is_none(),
            "more values than placeholders in {clause}"
        );
        self.clauses.push(sql);
    }

    /// How many clauses were added so far.
    pub fn clause_count(&self) -> usize {
        self.clauses.len()
    }

    /// Removes and returns the clauses added after the first `count` (their values stay bound:
    /// placeholders are numbered, so the clauses can be recombined in any order).
    pub fn take_clauses_since(&mut self, count: usize) -> Vec<String> {
        self.clauses.split_off(count.min(self.clauses.len()))
    }

    /// Adds a clause whose placeholders were already numbered by this filter.
    pub fn push_numbered_clause(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// Adds `column IN (?, ?, …)` (an empty list matches nothing).
    pub fn add_in(&mut self, column: &str, values: Vec<SqlValue>) {
        if values.is_empty() {
            self.clauses.push("1 = 0".into());
            return;
        }
        let marks = vec!["?"; values.len()].join(", ");
        self.add(&format!("{column} IN ({marks})"), values);
    }

    /// Adds "the JSON array of strings in `column` contains one of `values`".
    pub fn add_json_contains_any(&mut self, column: &str, values: Vec<String>) {
        if values.is_empty() {
            self.clauses.push("1 = 0".into());
            return;
        }
        let clause = match self.backend {
            Backend::Sqlite => {
                let marks = vec!["?"; values.len()].join(", ");
                format!(
                    "EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value IN ({marks}))"
                )
            }
            Backend::Postgres => {
                let tests: Vec<String> = values
                    .iter()
                    .map(|_| format!("jsonb_exists({column}, ?)"))
                    .collect();
                format!("({})", tests.join(" OR "))
            }
        };
        self.add(&clause, values.into_iter().map(|v| SqlValue::Text(Some(v))));
    }

    /// `WHERE …` (or nothing).
    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The bound values, in placeholder order.
    pub fn values(&self) -> &[SqlValue] {
        &self.values
    }

    /// The number of values bound so far (the next placeholder is `$len+1`).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no clause was added.
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }
}

/// Binds every [`SqlValue`] of `$values` to the query `$query` (a macro because the query's
/// type differs per backend).
#[macro_export]
macro_rules! bind_values {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            let value: &$crate::models::SqlValue = value;
            query = query.bind(value.clone());
        }
        query
    }};
}

/// `limit` and `offset` of a list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Page size.
    pub limit: i64,
    /// Items skipped.
    pub offset: i64,
}

impl Paging {
    /// From the query (invalid values are field errors).
    pub fn from_query(query: &QueryParams) -> Result<Self, ApiError> {
        let number = |name: &str, default: i64| -> Result<i64, ApiError> {
            match query.get(name) {
                None | Some("") => Ok(default),
                Some(raw) => raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    ApiError::field(name, "A valid non-negative integer is required.")
                }),
            }
        };
        let limit = number("limit", DEFAULT_LIMIT)?;
        Ok(Paging {
            limit: if limit == 0 {
                DEFAULT_LIMIT
            } else {
                limit.min(MAX_LIMIT)
            },
            offset: number("offset", 0)?,
        })
    }
}

/// One page of a list, in Pulp's shape.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T: Serialize> {
    /// Items matching the filters.
    pub count: i64,
    /// Link to the next page.
    pub next: Option<String>,
    /// Link to the previous page.
    pub previous: Option<String>,
    /// This page's items.
    pub results: Vec<T>,
}

impl<T: Serialize> Page<T> {
    /// A page with links built from the request's `base` URL (scheme, host, path) and query.
    pub fn new(
        results: Vec<T>,
        count: i64,
        paging: Paging,
        base: &str,
        query: &QueryParams,
    ) -> Self {
        let link = |offset: i64| {
            let mut pairs = query.without_paging();
            pairs.push(("limit".into(), paging.limit.to_string()));
            if offset > 0 {
                pairs.push(("offset".into(), offset.to_string()));
            }
            let encoded: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            format!("{base}?{encoded}")
        };
        let next = (paging.offset.saturating_add(paging.limit) < count)
            .then(|| link(paging.offset + paging.limit));
        let previous = (paging.offset > 0)
            .then(|| link(paging.offset.min(count).saturating_sub(paging.limit).max(0)));
        Page {
            count,
            next,
            previous,
            results,
        }
    }
}

/// The id in a reference to one of core's objects at `/pulp/api/v3/<endpoint>/<id>/`: its
/// href, absolute URL, or PRN `prn:core.<model>:<id>`.
pub fn core_object_reference(
    reference: &str,
    model: &str,
    endpoint: &str,
) -> Option<crate::db::PulpId> {
    let raw = match reference.strip_prefix(&format!("prn:core.{model}:")) {
        Some(id) => id,
        None => super::artifacts::url_path(reference)
            .strip_prefix(&format!("{}/{endpoint}/", super::API_ROOT))?
            .strip_suffix('/')?,
    };
    uuid::Uuid::parse_str(raw).ok().map(crate::db::PulpId)
}

/// `items` (read in any order) in the order of `ids` (a page's order); ids with no item are
/// skipped.
pub fn in_id_order<T>(
    ids: &[crate::db::PulpId],
    items: Vec<T>,
    id_of: impl Fn(&T) -> crate::db::PulpId,
) -> Vec<T> {
    let mut found: std::collections::HashMap<crate::db::PulpId, T> =
        items.into_iter().map(|item| (id_of(&item), item)).collect();
    ids.iter().filter_map(|id| found.remove(id)).collect()
}

/// Parses a timestamp filter value (ISO 8601; a date alone means midnight UTC).
pub fn parse_time(field: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(raw) {
        return Ok(time.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(raw, format) {
            return Ok(naive.and_utc());
        }
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        if let Some(midnight) = date.and_hms_opt(0, 0, 0) {
            return Ok(midnight.and_utc());
        }
    }
    Err(ApiError::field(field, "Enter a valid date/time."))
}

/// Adds the Django-style lookups of a timestamp column: `field`, `__gt`, `__gte`, `__lt`,
/// `__lte`, `__isnull`, `__range` (two comma-separated times).
pub fn time_filters(
    filter: &mut SqlWhere,
    query: &QueryParams,
    field: &str,
    column: &str,
) -> Result<(), ApiError> {
    for (suffix, op) in [
        ("", "="),
        ("__gt", ">"),
        ("__gte", ">="),
        ("__lt", "<"),
        ("__lte", "<="),
    ] {
        let name = format!("{field}{suffix}");
        if let Some(raw) = query.get(&name) {
            let time = parse_time(&name, raw)?;
            filter.add(&format!("{column} {op} ?"), [SqlValue::Time(Some(time))]);
        }
    }
    let isnull = format!("{field}__isnull");
    if let Some(raw) = query.get(&isnull) {
        match parse_bool(&isnull, raw)? {
            true => filter.add(&format!("{column} IS NULL"), []),
            false => filter.add(&format!("{column} IS NOT NULL"), []),
        }
    }
    let range = format!("{field}__range");
    if let Some(raw) = query.get(&range) {
        let parts: Vec<&str> = raw.split(',').collect();
        let [from, to] = parts.as_slice() else {
            return Err(ApiError::field(
                &range,
                "Enter two date/times separated by a comma.",
            ));
        };
        let (from, to) = (
            parse_time(&range, from.trim())?,
            parse_time(&range, to.trim())?,
        );
        filter.add(
            &format!("{column} >= ? AND {column} <= ?"),
            [SqlValue::Time(Some(from)), SqlValue::Time(Some(to))],
        );
    }
    Ok(())
}

/// The lookups Pulp offers on a text field (`name`, `viewset_name`…): exact, `__contains`,
/// `__icontains`, `__iexact`, `__in`, `__startswith`.
pub const TEXT_LOOKUPS: &[&str] = &[
    "",
    "__contains",
    "__icontains",
    "__iexact",
    "__in",
    "__startswith",
];

/// Adds the Django-style lookups of a text column that appear in `lookups`, for the query
/// parameter `field`: `""` (exact), `"__ne"`, `"__contains"`, `"__icontains"`, `"__iexact"`,
/// `"__startswith"`, `"__in"` (comma-separated).
pub fn text_filters(
    filter: &mut SqlWhere,
    query: &QueryParams,
    field: &str,
    column: &str,
    lookups: &[&str],
) {
    for lookup in lookups {
        let name = format!("{field}{lookup}");
        if *lookup == "__in" {
            let values = query.list(&name);
            if !values.is_empty() {
                filter.add_in(
                    column,
                    values
                        .into_iter()
                        .map(|v| SqlValue::Text(Some(v)))
                        .collect(),
                );
            }
            continue;
        }
        let Some(value) = query.get(&name) else {
            continue;
        };
        let (clause, bound) = match *lookup {
            "" => (format!("{column} = ?"), value.to_string()),
            "__ne" => (format!("{column} <> ?"), value.to_string()),
            "__contains" => (
                format!("{column} LIKE ? ESCAPE '\\'"),
                format!("%{}%", escape_like(value)),
            ),
            "__startswith" => (
                format!("{column} LIKE ? ESCAPE '\\'"),
                format!("{}%", escape_like(value)),
            ),
            "__icontains" => (
                format!("LOWER({column}) LIKE ? ESCAPE '\\'"),
                format!("%{}%", escape_like(&value.to_lowercase())),
            ),
            "__iexact" => (format!("LOWER({column}) = ?"), value.to_lowercase()),
            _ => continue,
        };
        filter.add(&clause, [SqlValue::Text(Some(bound))]);
    }
}

/// Adds `{field}__regex` and `{field}__iregex` (case-insensitive) on a text column: SQLite's
/// `REGEXP` (registered by the connection), PostgreSQL's `~` / `~*`. A pattern that does not
/// compile is a 400 on its parameter.
pub fn regex_filters(
    filter: &mut SqlWhere,
    query: &QueryParams,
    field: &str,
    column: &str,
) -> Result<(), ApiError> {
    for (suffix, insensitive) in [("__regex", false), ("__iregex", true)] {
        let name = format!("{field}{suffix}");
        let Some(pattern) = query.get(&name) else {
            continue;
        };
        if let Err(e) = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
        {
            return Err(ApiError::field(
                &name,
                format!("Invalid regular expression: {e}"),
            ));
        }
        let (clause, bound) = match (filter.backend(), insensitive) {
            (Backend::Sqlite, false) => (format!("{column} REGEXP ?"), pattern.to_string()),
            // The regex crate's inline flag (the `?` placeholder rule forbids it in SQL).
            (Backend::Sqlite, true) => (format!("{column} REGEXP ?"), format!("(?i){pattern}")),
            (Backend::Postgres, false) => (format!("{column} ~ ?"), pattern.to_string()),
            (Backend::Postgres, true) => (format!("{column} ~* ?"), pattern.to_string()),
        };
        filter.add(&clause, [SqlValue::Text(Some(bound))]);
    }
    Ok(())
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Parses a boolean query value as Django does (`true`/`false`, `1`/`0`, `True`/`False`).
pub fn parse_bool(field: &str, raw: &str) -> Result<bool, ApiError> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ApiError::field(field, "Enter a valid boolean.")),
    }
}

/// Turns `ordering=-started_at,name` into `ORDER BY …` using the allowed `columns`
/// (`(field, column)`); unknown fields are a field error.
pub fn ordering(
    query: &QueryParams,
    columns: &[(&str, &str)],
    default: &str,
) -> Result<String, ApiError> {
    let requested = query.list("ordering");
    if requested.is_empty() {
        return Ok(format!("ORDER BY {default}"));
    }
    let mut parts = Vec::new();
    for item in requested {
        let (descending, field) = match item.strip_prefix('-') {
            Some(field) => (true, field),
            None => (false, item.as_str()),
        };
        let column = columns
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, column)| *column)
            .ok_or_else(|| {
                let allowed: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
                ApiError::field(
                    "ordering",
                    format!(
                        "Unknown ordering field '{field}'; use one of {}.",
                        allowed.join(", ")
                    ),
                )
            })?;
        parts.push(format!(
            "{column} {}",
            if descending { "DESC" } else { "ASC" }
        ));
    }
    Ok(format!("ORDER BY {}", parts.join(", ")))
}

/// How `pulp_id__in` treats a value that is not a UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadIds {
    /// A field error naming it.
    Refuse,
    /// It matches nothing.
    Ignore,
}

/// Adds `pulp_href__in`, `prn__in` and `pulp_id__in` (objects by reference) as one
/// `m.pulp_id IN (…)`: `parse` turns an href or PRN into an id (`None`: matches nothing).
/// When none of the three is given, nothing is added.
pub fn reference_filters(
    filter: &mut SqlWhere,
    query: &QueryParams,
    parse: impl Fn(&str) -> Option<PulpId>,
    bad_ids: BadIds,
) -> Result<(), ApiError> {
    let mut ids = Vec::new();
    let mut any = false;
    for reference in query
        .list("pulp_href__in")
        .into_iter()
        .chain(query.list("prn__in"))
    {
        any = true;
        ids.extend(parse(&reference).map(|v| SqlValue::Id(Some(v))));
    }
    for raw in query.list("pulp_id__in") {
        any = true;
        match uuid::Uuid::parse_str(&raw) {
            Ok(id) => ids.push(SqlValue::Id(Some(PulpId(id)))),
            Err(_) if bad_ids == BadIds::Refuse => {
                return Err(ApiError::field(
                    "pulp_id__in",
                    format!("'{raw}' is not a valid UUID."),
                ))
            }
            Err(_) => {}
        }
    }
    if any {
        filter.add_in("m.pulp_id", ids);
    }
    Ok(())
}

/// The id in an href of the form `<prefix><uuid>/` or a PRN `prn:<kind>:<uuid>`.
pub fn id_from_reference(
    field: &str,
    reference: &str,
    href_prefix: &str,
    prn_kind: &str,
) -> Result<PulpId, ApiError> {
    let raw = reference
        .strip_prefix(href_prefix)
        .map(|rest| rest.trim_end_matches('/'))
        .or_else(|| reference.strip_prefix(&format!("prn:{prn_kind}:")));
    raw.and_then(|id| uuid::Uuid::parse_str(id).ok())
        .map(PulpId)
        .ok_or_else(|| {
            ApiError::field(
                field,
                format!("'{reference}' is not a valid reference to a {prn_kind}."),
            )
        })
}
