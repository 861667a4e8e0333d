//! Pulp's `fields` / `exclude_fields` query parameters.

use serde_json::Value;

/// Keeps only the top-level keys named by `fields` (if any), then drops those named by
/// `exclude_fields`. Both take comma-separated names and may repeat.
pub fn select_fields(value: Value, query: Option<&str>) -> Value {
    let (mut include, mut exclude) = (Vec::new(), Vec::new());
    for (key, list) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let names = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from);
        match key.as_ref() {
            "fields" => include.extend(names),
            "exclude_fields" => exclude.extend(names),
            _ => {}
        }
    }
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| include.is_empty() || include.contains(k))
                .filter(|(k, _)| !exclude.contains(k))
                .collect(),
        ),
        other => other,
    }
}
