//! Parsing request bodies into typed structs, with errors by field.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Validate, ValidationErrors, NON_FIELD_ERRORS};

/// A create or update body: a typed struct deserialized from JSON, then validated.
pub trait Body: DeserializeOwned + Validate {
    /// Every field the body accepts; any other key is refused, naming it.
    const FIELDS: &'static [&'static str];
}

/// Deserializes `value` into `B` and validates it. Unknown keys, missing required fields,
/// values of the wrong type and failed checks are all reported by field name.
pub fn parse_body<B: Body>(value: Value) -> Result<B, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let Value::Object(map) = &value else {
        return Err(ValidationErrors::field(
            NON_FIELD_ERRORS,
            "Invalid data. Expected a dictionary.",
        ));
    };
    for key in map.keys() {
        if !B::FIELDS.contains(&key.as_str()) {
            errors.add(key, "Unexpected field.");
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let body: B = match serde_path_to_error::deserialize(value) {
        Ok(body) => body,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            if let Some(field) = missing_field(&inner) {
                errors.add(field, "This field is required.");
            } else {
                let field = if path == "." || path.is_empty() {
                    NON_FIELD_ERRORS.to_string()
                } else {
                    path.split('.')
                        .next()
                        .unwrap_or(NON_FIELD_ERRORS)
                        .to_string()
                };
                errors.add(&field, clean(&inner));
            }
            return Err(errors);
        }
    };
    body.validate(&mut errors);
    errors.into_result().map(|()| body)
}

/// `missing field `name`` → `name`.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// serde_json's message without its position suffix.
fn clean(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}
