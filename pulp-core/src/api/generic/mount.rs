//! Mounting the generic routes of a detail type, documented with Pulp's operation ids.

use axum::routing::{get, post};

use super::crud;
use super::kinds::{column_field, common_fields, kind_fields, kind_info};
use crate::api::openapi::{
    common_filter_params, field_params, list_params, name_params, FieldType, Operation, Param,
    RequestBody, Response, Schema,
};
use crate::api::routes_doc::ApiRoutes;
use crate::api::API_ROOT;
use crate::models::{Detail, MasterKind};

/// Names of a detail type in the API.
#[derive(Debug, Clone)]
pub struct Names {
    /// Operation id prefix (`remotes_file_file`).
    pub op: String,
    /// Href path parameter (`file_file_remote_href`).
    pub href: String,
    /// Collection path (`/pulp/api/v3/remotes/file/file/`).
    pub collection: String,
    /// Axum path of one object (`/pulp/api/v3/remotes/file/file/{id}/`).
    pub object: String,
    /// Documentation tag (`Remotes: File`).
    pub tag: String,
    /// Request schema name (`file.FileRemote`).
    pub schema: String,
    /// Words for summaries (`file remote`).
    pub words: String,
}

fn title(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The names of `T`.
pub fn names<T: Detail>() -> Names {
    let kind = &<T::Kind as MasterKind>::FACTS;
    let endpoint = <T::Kind as MasterKind>::ENDPOINT;
    let plugin = T::PULP_TYPE.split('.').next().unwrap_or_default();
    let type_name = std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or_default()
        .to_string();
    Names {
        op: format!("{endpoint}_{}", T::ENDPOINT.replace('/', "_")),
        href: if T::HREF_PARAM.is_empty() {
            format!("{}_{}_href", T::PULP_TYPE.replace('.', "_"), kind.singular)
        } else {
            T::HREF_PARAM.to_string()
        },
        collection: format!("{API_ROOT}/{endpoint}/{}/", T::ENDPOINT),
        object: format!("{API_ROOT}/{endpoint}/{}/{{id}}/", T::ENDPOINT),
        tag: format!("{}: {}", kind.title, title(plugin)),
        schema: format!("{plugin}.{type_name}"),
        words: format!("{plugin} {}", kind.singular.replace('_', " ")),
    }
}

/// The serializer of `T`: common, kind and detail fields.
pub fn schema<T: Detail>() -> Schema {
    let table = <T::Kind as MasterKind>::TABLE;
    let mut fields = common_fields(table != "core_publication");
    fields.extend(kind_fields(table));
    for column in T::COLUMNS {
        let mut field = column_field(column);
        if T::READ_ONLY_COLUMNS.contains(&column.name) {
            field = field.read_only();
        }
        if !fields.iter().any(|f| f.name == field.name) {
            fields.push(field);
        }
    }
    if table == "core_content" {
        fields.push(crate::api::openapi::Field::new("artifact", FieldType::Href).read_only());
    }
    // What `Detail::api_response` renames or adds shows in the response schema.
    let mut probe: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|f| (f.name.clone(), serde_json::Value::Null))
        .collect();
    T::api_response(&mut probe);
    for field in fields.iter_mut() {
        if !probe.contains_key(&field.name) && !field.read_only {
            field.write_only = true;
        }
    }
    for name in probe.keys() {
        if !fields.iter().any(|f| &f.name == name) {
            fields.push(crate::api::openapi::Field::new(name, FieldType::String).read_only());
        }
    }
    Schema::new(&names::<T>().schema, fields)
}

/// Mounts list, read, labels and — as the kind allows — create, update and delete of `T`.
pub fn mount_detail<T: Detail>(routes: &mut ApiRoutes) {
    let table = <T::Kind as MasterKind>::TABLE;
    let kind = kind_info(table);
    let n = names::<T>();
    let schema = schema::<T>();
    routes.schema(&schema, kind.updatable).page_schema(&schema);

    let mut list_filters = list_params(&["pulp_created"]);
    if kind.named {
        list_filters.extend(name_params());
    }
    list_filters.extend(common_filter_params());
    // Implemented by `common_filters` for every kind (pulpcore has a subset on each).
    list_filters.extend(crate::api::openapi::time_params("pulp_created"));
    list_filters.extend(crate::api::openapi::time_params("pulp_last_updated"));
    list_filters.push(Param::query(
        "pulp_type__in",
        FieldType::StringList,
        "Pulp type is in",
    ));
    for (param, _) in T::API_FILTERS {
        list_filters.push(Param::query(
            param,
            FieldType::String,
            &format!("Filter results where {param} matches value"),
        ));
        list_filters.push(Param::query(
            &format!("{param}__in"),
            FieldType::StringList,
            &format!("Filter results where {param} is in a comma-separated list of values"),
        ));
        list_filters.push(Param::query(
            &format!("{param}__contains"),
            FieldType::String,
            &format!("Filter results where {param} contains value"),
        ));
        for suffix in ["__regex", "__iregex"] {
            list_filters.push(Param::query(
                &format!("{param}{suffix}"),
                FieldType::String,
                &format!("Filter results where {param} matches regex value"),
            ));
        }
    }
    if table == "core_content" {
        list_filters.extend(super::content::version_filter_params());
    }
    if table == "core_distribution" {
        list_filters.push(Param::query(
            "base_path",
            FieldType::String,
            "Filter results where base_path matches value",
        ));
        list_filters.push(Param::query(
            "base_path__contains",
            FieldType::String,
            "Filter results where base_path contains value",
        ));
        list_filters.push(Param::query(
            "base_path__icontains",
            FieldType::String,
            "Filter results where base_path contains value",
        ));
        list_filters.push(Param::query(
            "base_path__in",
            FieldType::StringList,
            "Filter results where base_path is in a comma-separated list of values",
        ));
    }
    if table == "core_publication" {
        list_filters.push(Param::query(
            "repository_version",
            FieldType::Href,
            "Repository Version referenced by HREF/PRN",
        ));
        list_filters.push(Param::query(
            "repository",
            FieldType::Href,
            "Repository referenced by HREF/PRN",
        ));
    }
    let mut collection_ops =
        vec![
            Operation::new("get", &n.collection, &format!("{}_list", n.op), &n.tag)
                .summary(&format!("List {}s", n.words))
                .params(list_filters)
                .response(200, Response::Schema(schema.page_name())),
        ];
    let mut collection = get(crud::list::<T>);
    if kind.generic_create {
        collection = collection.post(crud::create::<T>);
        let answer = if kind.async_create {
            (202, Response::Task)
        } else {
            (201, Response::Schema(schema.response_name()))
        };
        collection_ops.push(
            Operation::new("post", &n.collection, &format!("{}_create", n.op), &n.tag)
                .summary(&format!("Create a {}", n.words))
                .body(RequestBody::Schema(schema.name.clone()))
                .response(answer.0, answer.1),
        );
    }
    routes.route(&n.collection, collection, collection_ops);

    let href = format!("{{{}}}", n.href);
    let mut object_ops = vec![
        Operation::new("get", &href, &format!("{}_read", n.op), &n.tag)
            .summary(&format!("Inspect a {}", n.words))
            .params(field_params())
            .response(200, Response::Schema(schema.response_name())),
    ];
    let mut object = get(crud::read::<T>);
    if kind.updatable {
        object = object
            .put(crud::update::<T>)
            .patch(crud::partial_update::<T>);
        for (method, suffix, body) in [
            ("put", "update", schema.name.clone()),
            ("patch", "partial_update", schema.patched_name()),
        ] {
            let mut op = Operation::new(method, &href, &format!("{}_{suffix}", n.op), &n.tag)
                .summary(&format!("Update a {}", n.words))
                .body(RequestBody::Schema(body));
            op = if kind.async_change {
                op.response(202, Response::Task)
            } else {
                op.response(200, Response::Schema(schema.response_name()))
            };
            object_ops.push(op);
        }
    }
    if table != "core_content" {
        object = object.delete(crud::delete::<T>);
        let op = Operation::new("delete", &href, &format!("{}_delete", n.op), &n.tag)
            .summary(&format!("Delete a {}", n.words));
        object_ops.push(if kind.async_change {
            op.response(202, Response::Task)
        } else {
            op.response(204, Response::Empty)
        });
    }
    routes.route(&n.object, object, object_ops);

    if table != "core_publication" {
        routes.route(
            &format!("{}set_label/", n.object),
            post(crud::set_label::<T>),
            [Operation::new(
                "post",
                &format!("{href}set_label/"),
                &format!("{}_set_label", n.op),
                &n.tag,
            )
            .summary("Set a label")
            .body(RequestBody::Schema("SetLabel".into()))
            .response(201, Response::Schema("SetLabelResponse".into()))],
        );
        routes.route(
            &format!("{}unset_label/", n.object),
            post(crud::unset_label::<T>),
            [Operation::new(
                "post",
                &format!("{href}unset_label/"),
                &format!("{}_unset_label", n.op),
                &n.tag,
            )
            .summary("Unset a label")
            .body(RequestBody::Schema("UnsetLabel".into()))
            .response(201, Response::Schema("UnsetLabelResponse".into()))],
        );
    }
}
