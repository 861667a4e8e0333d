//! Schemas of `set_label/` and `unset_label/` (shared by every labeled type).

use super::openapi::{Field, FieldType, Schema};
use super::routes_doc::ApiRoutes;

/// Documents `SetLabel`, `UnsetLabel` and their responses.
pub fn mount_schemas(routes: &mut ApiRoutes) {
    routes.schema(
        &Schema::new(
            "SetLabel",
            vec![
                Field::new("key", FieldType::String).required(),
                Field::new("value", FieldType::String).nullable().required(),
            ],
        ),
        false,
    );
    routes.schema(
        &Schema::new(
            "UnsetLabel",
            vec![
                Field::new("key", FieldType::String).required(),
                Field::new("value", FieldType::String).read_only(),
            ],
        ),
        false,
    );
}
