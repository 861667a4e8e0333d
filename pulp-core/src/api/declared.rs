//! What the REST API reads from the app: the operations and routes it derives from the
//! registry's declarations, and the access-policy coverage of its operations. An `impl App`
//! of the API layer, so that the app (a lower layer) names nothing of the API.

use super::routes::api_routes;
use crate::app::App;

impl App {
    /// The generic operations of detail type `pulp_type` of the kind stored in `table`.
    pub fn detail_ops(&self, table: &str, pulp_type: &str) -> Option<super::generic::DetailOps> {
        self.registry()
            .detail_ops
            .get(&(table.to_string(), pulp_type.to_string()))
            .copied()
    }

    /// The API create operation of the single-artifact content type `pulp_type`, if a plugin
    /// declared it with [`Registry::content_upload`](crate::plugin::Registry::content_upload).
    pub fn content_upload_ops(
        &self,
        pulp_type: &str,
    ) -> Option<super::content_upload::ContentUploadOps> {
        self.registry().content_uploads.get(pulp_type).copied()
    }

    /// What plugins (and core) mount into the REST API.
    pub fn api_mounters(&self) -> &[super::ApiMounter] {
        &self.registry().api_mounters
    }

    /// The ids of the API operations (sorted) that belong to no declared viewset, or whose
    /// action no statement of their viewset's default policy names: only superusers can ever
    /// call them. A plugin's tests can assert that this is empty.
    pub fn operations_without_access_policy(&self) -> Vec<String> {
        let policies = self.access_policies();
        let routes = api_routes(self);
        let actions = super::auth::OperationActions::new(&routes, self);
        let mut uncovered: Vec<String> = routes
            .operations()
            .filter(|((method, path), _)| match actions.get(method, path) {
                None => true,
                Some((viewset, action)) => !policies
                    .iter()
                    .filter(|(name, _)| name == viewset)
                    .any(|(_, policy)| policy.names_action(action)),
            })
            .map(|(_, id)| id.clone())
            .collect();
        uncovered.sort();
        uncovered.dedup();
        uncovered
    }
}
