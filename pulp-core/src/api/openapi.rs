//! The OpenAPI document (`/pulp/api/v3/docs/api.json`), built from the same declarations
//! that mount the routes: every [`Operation`] added to an [`ApiDoc`] becomes a path entry, and
//! every [`Schema`] a component (with its `*Response` and `Patched*` variants).
//!
//! Names follow Pulp's: operation ids (`remotes_file_file_list`), href path parameters
//! (`{file_file_remote_href}`), schema names (`file.FileRemote`, `file.FileRemoteResponse`,
//! `Patchedfile.FileRemote`, `Paginatedfile.FileRemoteResponseList`), so that clients generated
//! from Pulp's document (pulp-cli, pulp-glue) work unchanged.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// The JSON type of a field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    /// A string.
    String,
    /// An href or PRN of another object.
    Href,
    /// An RFC 3339 timestamp.
    DateTime,
    /// An integer.
    Integer,
    /// A number.
    Number,
    /// A boolean.
    Boolean,
    /// `pulp_labels`: an object of strings.
    Labels,
    /// Any JSON object.
    Object,
    /// Any JSON value.
    Any,
    /// A list of strings.
    StringList,
    /// A list of objects.
    ObjectList,
    /// One of the given strings.
    Enum(&'static [&'static str]),
    /// A file part of a multipart body.
    Binary,
    /// An object of the named component schema.
    Ref(String),
}

/// One field of a serializer.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: FieldType,
    /// Required in create bodies.
    pub required: bool,
    /// May be `null`.
    pub nullable: bool,
    /// Only in responses.
    pub read_only: bool,
    /// Only in requests (secrets).
    pub write_only: bool,
    /// What it means.
    pub description: String,
}

impl Field {
    /// An optional, writable, non-null field.
    pub fn new(name: &str, ty: FieldType) -> Self {
        Self {
            name: name.into(),
            ty,
            required: false,
            nullable: false,
            read_only: false,
            write_only: false,
            description: String::new(),
        }
    }
    /// Required in create bodies.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// May be `null`.
    pub fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }
    /// Only in responses.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }
    /// Only in requests.
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }
    /// With a description.
    pub fn doc(mut self, description: &str) -> Self {
        self.description = description.into();
        self
    }

    fn schema(&self) -> Value {
        let mut schema = match &self.ty {
            FieldType::String => json!({"type": "string"}),
            FieldType::Href => json!({"type": "string", "format": "uri"}),
            FieldType::DateTime => json!({"type": "string", "format": "date-time"}),
            FieldType::Integer => json!({"type": "integer", "format": "int64"}),
            FieldType::Number => json!({"type": "number", "format": "double"}),
            FieldType::Boolean => json!({"type": "boolean"}),
            FieldType::Labels => {
                json!({"type": "object", "additionalProperties": {"type": ["string", "null"]}})
            }
            FieldType::Object => json!({"type": "object"}),
            FieldType::Any => json!({}),
            FieldType::StringList => json!({"type": "array", "items": {"type": "string"}}),
            FieldType::ObjectList => json!({"type": "array", "items": {"type": "object"}}),
            FieldType::Enum(values) => json!({"type": "string", "enum": values}),
            FieldType::Binary => json!({"type": "string", "format": "binary"}),
            FieldType::Ref(name) => json!({"$ref": format!("#/components/schemas/{name}")}),
        };
        if self.nullable {
            if let Some(Value::String(t)) = schema.get("type").cloned() {
                schema["type"] = json!([t, "null"]);
            } else if let Some(Value::Array(values)) = schema.get("enum").cloned() {
                let mut values = values;
                values.push(Value::Null);
                schema["enum"] = Value::Array(values);
            } else if schema.get("$ref").is_some() {
                schema = json!({"oneOf": [schema, {"type": "null"}]});
            }
        }
        if let Value::Object(map) = &mut schema {
            if self.read_only {
                map.insert("readOnly".into(), true.into());
            }
            if self.write_only {
                map.insert("writeOnly".into(), true.into());
            }
            if !self.description.is_empty() {
                map.insert("description".into(), self.description.clone().into());
            }
        }
        schema
    }
}

/// A serializer: the fields of one object type, in requests and responses.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// Component name of the request schema (`file.FileRemote`); the response schema is
    /// `<name>Response`, the partial-update one `Patched<name>`.
    pub name: String,
    /// What the object is.
    pub description: String,
    /// Its fields.
    pub fields: Vec<Field>,
}

impl Schema {
    /// A schema with these fields.
    pub fn new(name: &str, fields: Vec<Field>) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            fields,
        }
    }

    /// The response schema's name.
    pub fn response_name(&self) -> String {
        format!("{}Response", self.name)
    }

    /// The partial-update schema's name.
    pub fn patched_name(&self) -> String {
        format!("Patched{}", self.name)
    }

    /// The paginated-list schema's name.
    pub fn page_name(&self) -> String {
        format!("Paginated{}ResponseList", self.name)
    }

    fn object(&self, keep: impl Fn(&Field) -> bool, with_required: bool) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in self.fields.iter().filter(|f| keep(f)) {
            properties.insert(field.name.clone(), field.schema());
            if with_required && field.required {
                required.push(Value::String(field.name.clone()));
            }
        }
        let mut object = json!({"type": "object", "properties": properties});
        if !self.description.is_empty() {
            object["description"] = self.description.clone().into();
        }
        if !required.is_empty() {
            object["required"] = Value::Array(required);
        }
        object
    }

    fn components(&self, patched: bool) -> Vec<(String, Value)> {
        let mut out = vec![
            (self.name.clone(), self.object(|f| !f.read_only, true)),
            (self.response_name(), self.object(|f| !f.write_only, true)),
        ];
        if patched {
            out.push((self.patched_name(), self.object(|f| !f.read_only, false)));
        }
        out
    }
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamIn {
    /// In the path (`{file_file_remote_href}`).
    Path,
    /// In the query string.
    Query,
    /// In a request header (`Content-Range` of `uploads_update`).
    Header,
}

/// A parameter of an operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// Path or query.
    pub location: ParamIn,
    /// Its type.
    pub ty: FieldType,
    /// What it filters or selects.
    pub description: String,
}

impl Param {
    /// A query parameter.
    pub fn query(name: &str, ty: FieldType, description: &str) -> Self {
        Self {
            name: name.into(),
            location: ParamIn::Query,
            ty,
            description: description.into(),
        }
    }

    /// A path parameter.
    pub fn path(name: &str) -> Self {
        Self {
            name: name.into(),
            location: ParamIn::Path,
            ty: FieldType::String,
            description: String::new(),
        }
    }

    fn to_json(&self) -> Value {
        let mut schema = Field::new(&self.name, self.ty.clone()).schema();
        if let Value::Object(map) = &mut schema {
            map.remove("description");
        }
        let mut param = json!({
            "in": match self.location { ParamIn::Path => "path", ParamIn::Query => "query", ParamIn::Header => "header" },
            "name": self.name,
            "schema": schema,
        });
        if self.location == ParamIn::Path {
            param["required"] = true.into();
        }
        if !self.description.is_empty() {
            param["description"] = self.description.clone().into();
        }
        if matches!(self.ty, FieldType::StringList) && self.location == ParamIn::Query {
            param["explode"] = false.into();
            param["style"] = "form".into();
        }
        param
    }
}

/// The body an operation accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    /// A JSON body of this component schema.
    Schema(String),
    /// Multipart only (file uploads), of this component schema.
    Multipart(String),
}

/// An answer an operation gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// A JSON object of this component schema.
    Schema(String),
    /// `{"task": href}` (Pulp's `AsyncOperationResponse`).
    Task,
    /// No content.
    Empty,
    /// Any JSON.
    Json,
}

/// One operation: a method on a path, with Pulp's operation id.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// `get`, `post`, `put`, `patch` or `delete`.
    pub method: &'static str,
    /// The documented path: literal (`/pulp/api/v3/remotes/file/file/`) or an href template
    /// (`{file_file_remote_href}`, `{file_file_repository_href}sync/`).
    pub path: String,
    /// Pulp's operation id.
    pub operation_id: String,
    /// One-line summary.
    pub summary: String,
    /// Group in the documentation (`Remotes: File`).
    pub tag: String,
    /// Path and query parameters.
    pub params: Vec<Param>,
    /// The body, if any.
    pub body: Option<RequestBody>,
    /// Answers by status code.
    pub responses: Vec<(u16, Response)>,
    /// Whether anonymous clients may call it.
    pub anonymous: bool,
    /// The axum path it is served at (`/pulp/api/v3/remotes/file/file/{id}/`), set when
    /// mounted: the paths of the `?pk_path=1` document are made from it.
    pub served_at: Option<String>,
}

impl Operation {
    /// An operation with no parameters, body or answers yet.
    pub fn new(method: &'static str, path: &str, operation_id: &str, tag: &str) -> Self {
        let href_param = path
            .strip_prefix('{')
            .and_then(|p| p.split_once('}'))
            .map(|(name, _)| name.to_string());
        Self {
            method,
            path: path.into(),
            operation_id: operation_id.into(),
            summary: String::new(),
            tag: tag.into(),
            params: href_param.into_iter().map(|p| Param::path(&p)).collect(),
            body: None,
            responses: Vec::new(),
            anonymous: false,
            served_at: None,
        }
    }
    /// With a summary.
    pub fn summary(mut self, summary: &str) -> Self {
        self.summary = summary.into();
        self
    }
    /// With more parameters.
    pub fn params(mut self, params: impl IntoIterator<Item = Param>) -> Self {
        self.params.extend(params);
        self
    }
    /// With a body.
    pub fn body(mut self, body: RequestBody) -> Self {
        self.body = Some(body);
        self
    }
    /// With an answer.
    pub fn response(mut self, status: u16, response: Response) -> Self {
        self.responses.push((status, response));
        self
    }
    /// Callable without credentials.
    pub fn anonymous(mut self) -> Self {
        self.anonymous = true;
        self
    }

    fn to_json(&self) -> Value {
        let mut op = json!({
            "operationId": self.operation_id,
            "summary": self.summary,
            "tags": [self.tag],
            "parameters": self.params.iter().map(Param::to_json).collect::<Vec<_>>(),
        });
        if let Some(body) = &self.body {
            let content = match body {
                RequestBody::Schema(name) => {
                    let schema = json!({"$ref": format!("#/components/schemas/{name}")});
                    // JSON only: clients (pulp-glue) fall back to the next content type
                    // when a body does not validate, which would only move the error.
                    json!({ "application/json": {"schema": schema} })
                }
                RequestBody::Multipart(name) => json!({
                    "multipart/form-data": {"schema": {"$ref": format!("#/components/schemas/{name}")}},
                    "application/x-www-form-urlencoded": {"schema": {"$ref": format!("#/components/schemas/{name}")}},
                }),
            };
            op["requestBody"] = json!({"content": content, "required": true});
        }
        let mut responses = Map::new();
        for (status, response) in &self.responses {
            let schema = match response {
                Response::Schema(name) => {
                    Some(json!({"$ref": format!("#/components/schemas/{name}")}))
                }
                Response::Task => {
                    Some(json!({"$ref": "#/components/schemas/AsyncOperationResponse"}))
                }
                Response::Json => Some(json!({"type": "object"})),
                Response::Empty => None,
            };
            let answer = match schema {
                Some(schema) => {
                    json!({"content": {"application/json": {"schema": schema}}, "description": ""})
                }
                None => json!({"description": "No response body"}),
            };
            responses.insert(status.to_string(), answer);
        }
        op["responses"] = Value::Object(responses);
        op["security"] = if self.anonymous {
            json!([{"basicAuth": []}, {}])
        } else {
            json!([{"basicAuth": []}])
        };
        op
    }
}

/// Every operation and schema of the API: what the OpenAPI document is made from.
#[derive(Debug, Clone, Default)]
pub struct ApiDoc {
    operations: Vec<Operation>,
    schemas: BTreeMap<String, Value>,
}

impl ApiDoc {
    /// Adds an operation.
    pub fn operation(&mut self, operation: Operation) {
        self.operations.push(operation);
    }

    /// Adds a serializer's request and response schemas (and the partial-update one when
    /// `patched`).
    pub fn schema(&mut self, schema: &Schema, patched: bool) {
        for (name, value) in schema.components(patched) {
            self.schemas.insert(name, value);
        }
    }

    /// Adds the paginated-list schema of `schema`'s responses.
    pub fn page_schema(&mut self, schema: &Schema) {
        let items = json!({"$ref": format!("#/components/schemas/{}", schema.response_name())});
        self.schemas.insert(
            schema.page_name(),
            json!({
                "type": "object",
                "required": ["count", "results"],
                "properties": {
                    "count": {"type": "integer"},
                    "next": {"type": ["string", "null"], "format": "uri"},
                    "previous": {"type": ["string", "null"], "format": "uri"},
                    "results": {"type": "array", "items": items},
                }
            }),
        );
    }

    /// Adds a component schema written as JSON.
    pub fn raw_schema(&mut self, name: &str, schema: Value) {
        self.schemas.insert(name.into(), schema);
    }

    /// The operations declared so far.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// Merges another document's operations and schemas into this one.
    pub fn merge(&mut self, other: ApiDoc) {
        self.operations.extend(other.operations);
        self.schemas.extend(other.schemas);
    }

    /// The OpenAPI 3.1 document.
    pub fn document(&self, app_versions: Value, server: &str) -> Value {
        self.document_with(app_versions, server, false)
    }

    /// The OpenAPI 3.1 document; with `pk_path`, pulpcore's `?pk_path=1` variant: paths
    /// with the objects' ids as parameters (`/pulp/api/v3/repositories/file/file/{pulp_id}/`,
    /// `…/{repository_pk}/versions/{number}/`) instead of hrefs.
    pub fn document_with(&self, app_versions: Value, server: &str, pk_path: bool) -> Value {
        let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        for op in &self.operations {
            let (path, json) = match (&op.served_at, pk_path) {
                (Some(served), true) => pk_path_operation(op, served),
                _ => (op.path.clone(), op.to_json()),
            };
            paths
                .entry(path)
                .or_default()
                .insert(op.method.to_string(), json);
        }
        let mut schemas: Map<String, Value> = self.schemas.clone().into_iter().collect();
        schemas.insert(
            "AsyncOperationResponse".into(),
            json!({
                "type": "object",
                "description": "Serializer for asynchronous operations.",
                "properties": {"task": {"type": "string", "format": "uri", "readOnly": true}},
                "required": ["task"],
            }),
        );
        json!({
            "openapi": "3.1.1",
            "info": {
                "title": "Pulp 3 API",
                "version": "v3",
                "description": "Fetch, Upload, Organize, and Distribute Software Packages (pulp-rs)",
                "contact": {"name": "Pulp Team", "email": "pulp-list@redhat.com", "url": "https://pulpproject.org"},
                "license": {"name": "GNU General Public License v2.0 or later", "identifier": "GPL-2.0-or-later"},
                "x-pulp-app-versions": app_versions,
                "x-pulp-domain-enabled": false,
            },
            "servers": [{"url": server}],
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
            },
        })
    }
}

/// The `?pk_path=1` form of `op`, served at the axum path `served`: each `{id}` becomes
/// pulpcore's id parameter (`pulp_id`; `repository_pk`, `exporter_pk`, `importer_pk` for an
/// object nested below a repository, exporter or importer) and the href parameter goes.
fn pk_path_operation(op: &Operation, served: &str) -> (String, Value) {
    let nested = ["versions/", "exports/", "imports/"]
        .into_iter()
        .zip(["repository_pk", "exporter_pk", "importer_pk"])
        .find(|(below, _)| served.contains(&format!("{{id}}/{below}")));
    let id_name = nested.map_or("pulp_id", |(_, name)| name);
    let path = served.replace("{id}", &format!("{{{id_name}}}"));
    let mut json = op.to_json();
    let names: Vec<String> = path
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect();
    if let Some(Value::Array(params)) = json.get_mut("parameters") {
        params.retain(|p| p["in"] != "path");
        for name in names.iter().rev() {
            let schema = if name == "number" {
                json!({"type": "integer"})
            } else {
                json!({"type": "string", "format": "uuid"})
            };
            params.insert(
                0,
                json!({"in": "path", "name": name, "required": true, "schema": schema}),
            );
        }
    }
    (path, json)
}

/// The parameters every list operation has: paging, ordering and field selection.
pub fn list_params(ordering: &[&str]) -> Vec<Param> {
    let mut params = vec![
        Param::query(
            "limit",
            FieldType::Integer,
            "Number of results to return per page.",
        ),
        Param::query(
            "offset",
            FieldType::Integer,
            "The initial index from which to return the results.",
        ),
    ];
    if !ordering.is_empty() {
        params.push(Param::query(
            "ordering",
            FieldType::StringList,
            "Which field to use when ordering the results.",
        ));
    }
    params.extend(field_params());
    params
}

/// `fields` and `exclude_fields`.
pub fn field_params() -> Vec<Param> {
    vec![
        Param::query(
            "fields",
            FieldType::StringList,
            "A list of fields to include in the response.",
        ),
        Param::query(
            "exclude_fields",
            FieldType::StringList,
            "A list of fields to exclude from the response.",
        ),
    ]
}

/// Pulp's name filters on `name` (exact, contains, icontains, iexact, in, startswith).
pub fn name_params() -> Vec<Param> {
    vec![
        Param::query(
            "name",
            FieldType::String,
            "Filter results where name matches value",
        ),
        Param::query(
            "name__contains",
            FieldType::String,
            "Filter results where name contains value",
        ),
        Param::query(
            "name__icontains",
            FieldType::String,
            "Filter results where name contains value",
        ),
        Param::query(
            "name__iexact",
            FieldType::String,
            "Filter results where name matches value",
        ),
        Param::query(
            "name__in",
            FieldType::StringList,
            "Filter results where name is in a comma-separated list of values",
        ),
        Param::query(
            "name__startswith",
            FieldType::String,
            "Filter results where name starts with value",
        ),
        Param::query(
            "name__istartswith",
            FieldType::String,
            "Filter results where name starts with value",
        ),
        Param::query(
            "name__regex",
            FieldType::String,
            "Filter results where name matches regex value",
        ),
        Param::query(
            "name__iregex",
            FieldType::String,
            "Filter results where name matches regex value",
        ),
    ]
}

/// The lookups of a timestamp filter `field` (see [`crate::api::list::time_filters`]):
/// exact, `__gt`, `__gte`, `__lt`, `__lte`, `__isnull`, `__range`.
pub fn time_params(field: &str) -> Vec<Param> {
    let mut params: Vec<Param> = ["", "__gt", "__gte", "__lt", "__lte"]
        .into_iter()
        .map(|suffix| {
            Param::query(
                &format!("{field}{suffix}"),
                FieldType::DateTime,
                &format!("Filter results where {field} matches value"),
            )
        })
        .collect();
    params.push(Param::query(
        &format!("{field}__isnull"),
        FieldType::Boolean,
        &format!("Filter results where {field} has no value"),
    ));
    params.push(Param::query(
        &format!("{field}__range"),
        FieldType::StringList,
        &format!("Filter results where {field} is between two comma separated values"),
    ));
    params
}

/// `pulp_href__in`, `pulp_id__in`, `prn__in` (see [`crate::api::list::reference_filters`]).
pub fn reference_filter_params() -> Vec<Param> {
    vec![
        Param::query(
            "pulp_href__in",
            FieldType::StringList,
            "Multiple values may be separated by commas.",
        ),
        Param::query(
            "pulp_id__in",
            FieldType::StringList,
            "Multiple values may be separated by commas.",
        ),
        Param::query(
            "prn__in",
            FieldType::StringList,
            "Multiple values may be separated by commas.",
        ),
    ]
}

/// [`reference_filter_params`], `pulp_label_select`, `q`.
pub fn common_filter_params() -> Vec<Param> {
    let mut params = reference_filter_params();
    params.extend([
        Param::query(
            "pulp_label_select",
            FieldType::String,
            "Filter labels by search string",
        ),
        Param::query(
            "q",
            FieldType::String,
            "Filters combined with AND, OR, NOT and parentheses, e.g. name__contains=\"a\" AND NOT pulp_label_select=\"env=prod\"",
        ),
    ]);
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_fields_are_type_arrays_and_write_only_fields_stay_out_of_responses() {
        let schema = Schema::new(
            "file.FileRemote",
            vec![
                Field::new("name", FieldType::String).required(),
                Field::new("ca_cert", FieldType::String).nullable(),
                Field::new("password", FieldType::String)
                    .nullable()
                    .write_only(),
                Field::new("pulp_href", FieldType::Href).read_only(),
            ],
        );
        let mut doc = ApiDoc::default();
        doc.schema(&schema, true);
        let out = doc.document(json!({"core": "3.123.1"}), "http://localhost/");
        let s = &out["components"]["schemas"];
        assert_eq!(
            s["file.FileRemote"]["properties"]["ca_cert"]["type"],
            json!(["string", "null"])
        );
        assert!(s["file.FileRemote"]["properties"]
            .get("pulp_href")
            .is_none());
        assert!(s["file.FileRemoteResponse"]["properties"]
            .get("password")
            .is_none());
        assert_eq!(s["file.FileRemote"]["required"], json!(["name"]));
        assert!(s["Patchedfile.FileRemote"].get("required").is_none());
    }

    #[test]
    fn href_paths_get_their_path_parameter() {
        let op = Operation::new(
            "post",
            "{file_file_repository_href}sync/",
            "repositories_file_file_sync",
            "Repositories: File",
        );
        assert_eq!(op.params[0].name, "file_file_repository_href");
        assert_eq!(op.to_json()["parameters"][0]["required"], json!(true));
    }
}
