//! [`ValidationErrors`]: field name → messages.

use std::collections::BTreeMap;

/// The key of errors that concern no single field (Django REST framework's name).
pub const NON_FIELD_ERRORS: &str = "non_field_errors";

/// Problems found in a body or a unit, by field (Pulp's 400 body).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(BTreeMap<String, Vec<String>>);

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One error about one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Records a problem with `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) -> &mut Self {
        self.0
            .entry(field.to_string())
            .or_default()
            .push(message.into());
        self
    }

    /// Records a problem concerning no single field.
    pub fn add_non_field(&mut self, message: impl Into<String>) -> &mut Self {
        self.add(NON_FIELD_ERRORS, message)
    }

    /// Adds every error of `other`.
    pub fn merge(&mut self, other: ValidationErrors) -> &mut Self {
        for (field, messages) in other.0 {
            self.0.entry(field).or_default().extend(messages);
        }
        self
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The messages about `field`.
    pub fn messages(&self, field: &str) -> &[String] {
        self.0.get(field).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The fields with errors, sorted.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// `Ok(())` when empty, else `Err(self)`.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// Errors from a map of messages by field.
    pub fn from_map(map: BTreeMap<String, Vec<String>>) -> Self {
        Self(map)
    }

    /// The map, as Pulp's 400 body.
    pub fn into_map(self) -> BTreeMap<String, Vec<String>> {
        self.0
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (field, messages) in &self.0 {
            for message in messages {
                if !first {
                    f.write_str("; ")?;
                }
                first = false;
                write!(f, "{field}: {message}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}
