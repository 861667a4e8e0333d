//! Create and update bodies of any detail type: the kind's fields, the detail's columns and
//! `pulp_labels`, with references resolved and errors by field.

use serde_json::{Map, Value};

use super::kinds::{column_field, kind_fields, kind_info};
use super::refs::resolve;
use crate::api::ApiError;
use crate::app::App;
use crate::models::{Detail, Labels, MasterKind, Model};
use crate::validation::ValidationErrors;

/// The parts of a model a body describes.
pub type Parts<T> = (Labels, <<T as Detail>::Kind as MasterKind>::Fields, T);

/// The object of a JSON body, or Pulp's answer to a body that is not one.
pub fn body_object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::field(
            "non_field_errors",
            format!(
                "Invalid data. Expected a dictionary, but got {}.",
                match other {
                    Value::Array(_) => "list",
                    Value::String(_) => "str",
                    Value::Number(_) => "int",
                    Value::Bool(_) => "bool",
                    _ => "NoneType",
                }
            ),
        )),
    }
}

/// The names a create/update body of `T` accepts.
pub fn writable_fields<T: Detail>() -> Vec<String> {
    let table = <T::Kind as MasterKind>::TABLE;
    let mut names: Vec<String> = kind_fields(table)
        .into_iter()
        .filter(|f| !f.read_only)
        .map(|f| f.name)
        .collect();
    names.extend(
        T::COLUMNS
            .iter()
            .filter(|c| !T::READ_ONLY_COLUMNS.contains(&c.name))
            .map(|c| column_field(c).name),
    );
    names.push("pulp_labels".into());
    names
}

/// Parses labels: an object of strings.
pub fn parse_labels(value: &Value) -> Result<Labels, ApiError> {
    let Value::Object(map) = value else {
        return Err(ApiError::field(
            "pulp_labels",
            "Expected a dictionary of items.",
        ));
    };
    let mut labels = Labels::new();
    for (k, v) in map {
        match v {
            Value::String(s) => {
                labels.insert(k.clone(), Some(s.clone()));
            }
            Value::Null => {
                labels.insert(k.clone(), None);
            }
            _ => {
                return Err(ApiError::field(
                    "pulp_labels",
                    format!("Label '{k}' must have a string value."),
                ))
            }
        }
    }
    Ok(labels)
}

/// Builds the parts of a `T` from `body` over `base` (an update) or from nothing (a create).
/// `partial` (PATCH) skips the required-field check. Unknown fields, wrong types, missing
/// required fields and bad references are field errors; the model's own validation runs
/// when it is saved.
pub async fn parse_parts<T: Detail>(
    app: &App,
    body: Value,
    base: Option<&Model<T>>,
    partial: bool,
) -> Result<Parts<T>, ApiError> {
    let body = body_object(body)?;
    let table = <T::Kind as MasterKind>::TABLE;
    let kind = kind_info(table);
    let allowed = writable_fields::<T>();
    let mut errors = ValidationErrors::new();
    for key in body.keys() {
        if !allowed.iter().any(|a| a == key) {
            errors.add(key, "Unexpected field.");
        }
    }
    if !partial {
        for field in kind_fields(table).iter().filter(|f| f.required) {
            if !body.contains_key(&field.name) {
                errors.add(&field.name, "This field is required.");
            }
        }
    }
    let mut merged = Map::new();
    let mut labels = Labels::new();
    if let Some(base) = base {
        for part in [
            serde_json::to_value(&base.master.fields),
            serde_json::to_value(&base.detail),
        ] {
            if let Ok(Value::Object(fields)) = part {
                merged.extend(fields);
            }
        }
        labels = base.master.pulp_labels.clone();
    }
    for (key, value) in body {
        if !errors.is_empty() {
            break;
        }
        if key == "pulp_labels" {
            match parse_labels(&value) {
                Ok(l) => labels = l,
                Err(ApiError::Validation(e)) => {
                    errors.merge(ValidationErrors::from_map(e));
                }
                Err(e) => return Err(e),
            }
            continue;
        }
        if let Some(reference) = kind.references.iter().find(|r| r.api == key) {
            match &value {
                Value::Null => {
                    merged.insert(reference.column.into(), Value::Null);
                }
                Value::String(s) => match resolve(app, &key, s, reference.target).await {
                    Ok(id) => {
                        merged.insert(reference.column.into(), Value::String(id.to_string()));
                    }
                    Err(ApiError::Validation(e)) => {
                        errors.merge(ValidationErrors::from_map(e));
                    }
                    Err(e) => return Err(e),
                },
                _ => {
                    errors.add(&key, "Incorrect type. Expected URL string.");
                }
            }
            continue;
        }
        merged.insert(key, value);
    }
    errors.into_result()?;
    let fields = decode::<<T::Kind as MasterKind>::Fields>(&merged)?;
    let detail = decode::<T>(&merged)?;
    Ok((labels, fields, detail))
}

fn decode<D: serde::de::DeserializeOwned>(merged: &Map<String, Value>) -> Result<D, ApiError> {
    serde_path_to_error::deserialize(Value::Object(merged.clone())).map_err(|e| {
        let path = e.path().to_string();
        let field = path
            .split('.')
            .next()
            .filter(|p| !p.is_empty() && *p != "?")
            .unwrap_or("non_field_errors")
            .to_string();
        let message = e.into_inner().to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        let message = message
            .strip_prefix("invalid type: ")
            .map_or(message.clone(), |m| format!("Incorrect type: {m}."));
        ApiError::field(&field, message)
    })
}
