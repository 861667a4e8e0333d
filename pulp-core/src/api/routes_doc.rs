//! [`ApiRoutes`]: axum routes together with the OpenAPI operations they implement, so the
//! document can never list an operation that is not served (or miss one that is).

use std::collections::HashMap;
use std::sync::Arc;

use axum::routing::MethodRouter;
use axum::Router;

use super::openapi::{ApiDoc, Operation, Schema};
use crate::app::App;

/// Routes being mounted, with their documentation.
#[derive(Default)]
pub struct ApiRoutes {
    router: Router<App>,
    doc: ApiDoc,
    /// `(HTTP method, axum path)` → operation id, for operations that need a user.
    operations: HashMap<(String, String), String>,
    /// `(HTTP method, axum path)` → the query parameters a list operation declares.
    list_params: HashMap<(String, String), Vec<String>>,
}

impl std::fmt::Debug for ApiRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRoutes")
            .field("operations", &self.doc.operations().len())
            .finish()
    }
}

impl ApiRoutes {
    /// No routes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `handler` at the axum path `path` (`/pulp/api/v3/remotes/file/file/{id}/`) and
    /// documents it as `operations` (one per method the handler answers).
    pub fn route(
        &mut self,
        path: &str,
        handler: MethodRouter<App>,
        operations: impl IntoIterator<Item = Operation>,
    ) -> &mut Self {
        let router = std::mem::take(&mut self.router);
        self.router = router.route(path, handler);
        for mut operation in operations {
            operation.served_at = Some(path.to_string());
            if operation.method == "get" && operation.operation_id.ends_with("_list") {
                let names = operation
                    .params
                    .iter()
                    .filter(|p| p.location == super::openapi::ParamIn::Query)
                    .map(|p| p.name.clone())
                    .collect();
                self.list_params
                    .insert(("GET".to_string(), path.to_string()), names);
            }
            if operation.anonymous {
                self.doc.operation(operation);
                continue;
            }
            self.operations.insert(
                (operation.method.to_ascii_uppercase(), path.to_string()),
                operation.operation_id.clone(),
            );
            self.doc.operation(operation);
        }
        self
    }

    /// Documents a serializer (request, response and, with `patched`, partial-update schemas).
    pub fn schema(&mut self, schema: &Schema, patched: bool) -> &mut Self {
        self.doc.schema(schema, patched);
        self
    }

    /// Documents the paginated list of a serializer's responses.
    pub fn page_schema(&mut self, schema: &Schema) -> &mut Self {
        self.doc.page_schema(schema);
        self
    }

    /// Documents a component schema written as JSON.
    pub fn raw_schema(&mut self, name: &str, schema: serde_json::Value) -> &mut Self {
        self.doc.raw_schema(name, schema);
        self
    }

    /// Merges plain routes that are not part of the documented API.
    pub fn merge_undocumented(&mut self, router: Router<App>) -> &mut Self {
        let current = std::mem::take(&mut self.router);
        self.router = current.merge(router);
        self
    }

    /// The operation id served for `method` (`GET`) at the axum path `path`.
    pub fn operation_id(&self, method: &str, path: &str) -> Option<&str> {
        self.operations
            .get(&(method.to_ascii_uppercase(), path.to_string()))
            .map(String::as_str)
    }

    /// Every `((HTTP method, axum path), operation id)` served that needs a user.
    pub fn operations(&self) -> impl Iterator<Item = (&(String, String), &String)> {
        self.operations.iter()
    }

    /// The query parameters each list operation declares, by `(HTTP method, axum path)`.
    pub(crate) fn list_params(&self) -> &HashMap<(String, String), Vec<String>> {
        &self.list_params
    }

    /// The routes and the document.
    pub fn into_parts(self) -> (Router<App>, ApiDoc) {
        (self.router, self.doc)
    }
}

/// Something that mounts documented routes (what a plugin registers for its API).
#[derive(Clone)]
pub struct ApiMounter(pub(crate) Arc<dyn Fn(&mut ApiRoutes) + Send + Sync>);

impl ApiMounter {
    /// Wraps a function adding routes.
    pub fn new(mount: impl Fn(&mut ApiRoutes) + Send + Sync + 'static) -> Self {
        Self(Arc::new(mount))
    }

    /// Adds its routes.
    pub fn mount(&self, routes: &mut ApiRoutes) {
        (self.0)(routes)
    }
}

impl std::fmt::Debug for ApiMounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiMounter")
    }
}
