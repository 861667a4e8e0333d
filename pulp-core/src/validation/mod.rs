//! Serializer-style validation: request bodies deserialize into typed structs and are then
//! checked; every problem is reported against the field it concerns, in Pulp's shape
//! (`{"field": ["message", …], "non_field_errors": […]}`, which the REST API answers as
//! HTTP 400).

mod body;
mod errors;
mod path;

pub use body::{parse_body, Body};
pub use errors::{ValidationErrors, NON_FIELD_ERRORS};
pub use path::{validate_relative_path, RelativePathError};

/// A value that can check itself (a create/update body, a content unit before it is saved).
pub trait Validate {
    /// Adds every problem found to `errors` (leave it untouched when all is well).
    fn validate(&self, errors: &mut ValidationErrors);

    /// Runs [`Validate::validate`] and returns the errors, if any.
    fn validated(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        self.validate(&mut errors);
        errors.into_result()
    }
}
