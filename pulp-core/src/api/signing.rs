//! `/signing-services/`: the signing services (list, read), as pulpcore's read-only viewset.
//! They are added with `pulp-server add-signing-service`.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};

use super::generic::page;
use super::list::{
    core_object_reference, in_id_order, ordering, reference_filters, text_filters, BadIds, Page,
    Paging, QueryParams, SqlWhere,
};
use super::openapi::{
    field_params, list_params, reference_filter_params, FieldType, Operation, Param,
    Response as Doc,
};
use super::request::path_id;
use super::timestamp::format as ts;
use super::{base_url, select_fields, ApiError, ApiRoutes, API_ROOT};
use crate::app::App;
use crate::db::PulpId;
use crate::signing::{self, SigningError, SigningService};

const TAG: &str = "Signing-Services";

impl From<SigningError> for ApiError {
    fn from(e: SigningError) -> Self {
        match e {
            SigningError::Database(e) => e.into(),
            SigningError::NotFound(_) => ApiError::NotFound,
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

fn href(id: PulpId) -> String {
    format!("{API_ROOT}/signing-services/{id}/")
}

fn response(service: &SigningService) -> Value {
    json!({
        "pulp_href": href(service.pulp_id),
        "prn": format!("prn:core.signingservice:{}", service.pulp_id),
        "pulp_created": ts(&service.pulp_created),
        "pulp_last_updated": ts(&service.pulp_last_updated),
        "name": service.name,
        "public_key": service.public_key,
        "pubkey_fingerprint": service.pubkey_fingerprint,
        "script": service.script,
    })
}

/// Mounts the list and read operations.
pub(crate) fn mount(routes: &mut ApiRoutes) {
    let collection = format!("{API_ROOT}/signing-services/");
    let object = format!("{API_ROOT}/signing-services/{{id}}/");
    let properties = json!({
        "pulp_href": {"type": "string", "format": "uri", "readOnly": true},
        "prn": {"type": "string", "readOnly": true, "description": "The Pulp Resource Name (PRN)."},
        "pulp_created": {"type": "string", "format": "date-time", "readOnly": true},
        "pulp_last_updated": {"type": "string", "format": "date-time", "readOnly": true},
        "name": {"type": "string", "description": "A unique name used to recognize a script."},
        "public_key": {"type": "string", "description": "The value of a public key used for the repository verification."},
        "pubkey_fingerprint": {"type": "string", "description": "The fingerprint of the public key."},
        "script": {"type": "string", "description": "An absolute path to a script which is going to be used for the signing."},
    });
    routes
        .raw_schema(
            "SigningServiceResponse",
            json!({"type": "object", "properties": properties,
                   "required": ["name", "pubkey_fingerprint", "public_key", "script"]}),
        )
        .raw_schema(
            "PaginatedSigningServiceResponseList",
            json!({"type": "object", "required": ["count", "results"], "properties": {
                "count": {"type": "integer"},
                "next": {"type": ["string", "null"], "format": "uri"},
                "previous": {"type": ["string", "null"], "format": "uri"},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/SigningServiceResponse"}},
            }}),
        );
    let mut filters = list_params(&["name"]);
    filters.push(Param::query(
        "name",
        FieldType::String,
        "Filter results where name matches value",
    ));
    filters.extend(reference_filter_params());
    routes.route(
        &collection,
        get(list),
        [
            Operation::new("get", &collection, "signing_services_list", TAG)
                .summary("List signing services")
                .params(filters)
                .response(
                    200,
                    Doc::Schema("PaginatedSigningServiceResponseList".into()),
                ),
        ],
    );
    routes.route(
        &object,
        get(read),
        [Operation::new(
            "get",
            "{signing_service_href}",
            "signing_services_read",
            TAG,
        )
        .summary("Inspect a signing service")
        .params(field_params())
        .response(200, Doc::Schema("SigningServiceResponse".into()))],
    );
}

async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    text_filters(&mut filter, &query, "name", "m.name", &[""]);
    reference_filters(
        &mut filter,
        &query,
        |r| core_object_reference(r, "signingservice", "signing-services"),
        BadIds::Ignore,
    )?;
    let order = ordering(
        &query,
        &[
            ("pk", "m.pulp_id"),
            ("pulp_id", "m.pulp_id"),
            ("pulp_created", "m.pulp_created"),
            ("pulp_last_updated", "m.pulp_last_updated"),
            ("name", "m.name"),
            ("public_key", "m.public_key"),
            ("pubkey_fingerprint", "m.pubkey_fingerprint"),
            ("script", "m.script"),
        ],
        "m.name, m.pulp_id",
    )?;
    let app = &app;
    let (count, results) = page(
        app,
        "core_signingservice m",
        &filter,
        &order,
        paging,
        |ids| async move {
            let services = signing::get_many(app.db(), &ids).await?;
            Ok(in_id_order(&ids, services, |s| s.pulp_id)
                .iter()
                .map(|s| select_fields(response(s), raw.as_deref()))
                .collect::<Vec<Value>>())
        },
    )
    .await?;
    let base = format!("{}{API_ROOT}/signing-services/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)).into_response())
}

async fn read(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let service = signing::get(app.db(), path_id(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(select_fields(response(&service), raw.as_deref())).into_response())
}
