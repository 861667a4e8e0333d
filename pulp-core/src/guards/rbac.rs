//! `core/rbac` (who holds `core.download_rbaccontentguard`) and `core/composite` (any of
//! its member guards).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::content_guard::{evaluate, ContentGuardCheck, GuardDenied, GuardType, Requester};
use crate::db::PulpId;
use crate::models::{Column, ContentGuard, ContentGuardKind, Detail, Model};
use crate::rbac::Level;
use crate::validation::{Validate, ValidationErrors};

/// The permission an rbac guard asks for, on the guard or globally.
pub const DOWNLOAD_PERMISSION: &str = "core.download_rbaccontentguard";

/// A guard letting through the users (directly or by a group) holding
/// [`DOWNLOAD_PERMISSION`] on it or globally, and superusers (`core.rbac`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RbacContentGuard {}

impl Validate for RbacContentGuard {
    fn validate(&self, _: &mut ValidationErrors) {}
}

impl Detail for RbacContentGuard {
    type Kind = ContentGuardKind;
    const PULP_TYPE: &'static str = "core.rbac";
    const TABLE: &'static str = "core_rbaccontentguard";
    const COLUMNS: &'static [Column] = &[];
    const PRN_MODEL: &'static str = "core.rbaccontentguard";
    const ENDPOINT: &'static str = "core/rbac";
    const HREF_PARAM: &'static str = "r_b_a_c_content_guard_href";

    fn api_response(response: &mut serde_json::Map<String, serde_json::Value>) {
        // Filled by the REST layer: who holds the download permission on the guard.
        for field in ["users", "groups"] {
            response
                .entry(field)
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        }
    }
}

/// How long a decision of an rbac guard is kept when the settings name no content-app
/// cache time (the content app's `content_distribution_cache_ttl`, 2 s by default).
const DEFAULT_DECISION_TTL: Duration = Duration::from_secs(2);
const DECISIONS_MAX: usize = 8192;

/// The check of rbac guards: one permission query per (guard, user) and cache period, so
/// a guarded file costs no query per request; a role given or taken is seen within the
/// content app's cache time.
#[derive(Debug, Default)]
pub(crate) struct RbacCheck {
    decisions: Mutex<HashMap<(PulpId, PulpId), (bool, Instant)>>,
}

impl RbacCheck {
    async fn allowed(
        &self,
        app: &App,
        guard: PulpId,
        who: &Requester,
    ) -> Result<bool, GuardDenied> {
        let ttl = app
            .settings()
            .extra_value::<f64>("content_distribution_cache_ttl")
            .ok()
            .flatten()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_DECISION_TTL);
        let key = (guard, who.user_id);
        if let Some(held) = self.decisions.lock().ok().and_then(|d| {
            d.get(&key)
                .filter(|(_, at)| at.elapsed() < ttl)
                .map(|(held, _)| *held)
        }) {
            return Ok(held);
        }
        let id = guard.to_string();
        let held = crate::rbac::has_perm(
            app.db(),
            who.user_id,
            DOWNLOAD_PERMISSION,
            Level::GlobalOrObject(&id),
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "rbac content guard: permission query failed");
            GuardDenied("The permission check failed.".into())
        })?;
        if let Ok(mut decisions) = self.decisions.lock() {
            if decisions.len() >= DECISIONS_MAX {
                decisions.clear();
            }
            decisions.insert(key, (held, Instant::now()));
        }
        Ok(held)
    }
}

impl ContentGuardCheck for RbacCheck {
    async fn check(
        &self,
        app: &App,
        request: &Parts,
        guard: &ContentGuard,
    ) -> Result<(), GuardDenied> {
        let Some(who) = request.extensions.get::<Requester>() else {
            return Err(GuardDenied(
                "Authentication credentials were not provided.".into(),
            ));
        };
        if who.is_superuser || self.allowed(app, guard.pulp_id, who).await? {
            Ok(())
        } else {
            Err(GuardDenied(
                "You do not have permission to perform this action.".into(),
            ))
        }
    }
}

/// A guard letting a request through when any of its member guards does, in order; with
/// no members it lets every request through (`core.composite`). Members are kept as their
/// hrefs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompositeContentGuard {
    /// The member guards' hrefs.
    pub guards: Vec<String>,
}

/// The id of a content guard named by `href` (`/pulp/api/v3/contentguards/<a>/<b>/<id>/`)
/// or PRN (`prn:<model>:<id>`).
fn guard_id(reference: &str) -> Option<PulpId> {
    let id = if let Some(prn) = reference.strip_prefix("prn:") {
        prn.rsplit(':').next()?
    } else {
        let path = reference
            .split_once("/pulp/api/v3/contentguards/")
            .map(|(_, rest)| rest)?;
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        if parts.len() != 3 {
            return None;
        }
        parts[2]
    };
    uuid::Uuid::parse_str(id).ok().map(PulpId)
}

impl Validate for CompositeContentGuard {
    fn validate(&self, errors: &mut ValidationErrors) {
        for guard in &self.guards {
            if guard_id(guard).is_none() {
                errors.add(
                    "guards",
                    format!("Invalid hyperlink - No URL match: '{guard}'."),
                );
            }
        }
    }
}

impl Detail for CompositeContentGuard {
    type Kind = ContentGuardKind;
    const PULP_TYPE: &'static str = "core.composite";
    const TABLE: &'static str = "core_compositecontentguard";
    const COLUMNS: &'static [Column] = &[Column::json("guards")];
    const PRN_MODEL: &'static str = "core.compositecontentguard";
    const ENDPOINT: &'static str = "core/composite";
    const HREF_PARAM: &'static str = "composite_content_guard_href";
}

/// How deep composite guards may nest (a guard naming itself is refused, not looped on).
const MAX_DEPTH: u8 = 8;

#[derive(Debug, Clone, Copy)]
struct Depth(u8);

impl GuardType for CompositeContentGuard {
    async fn permit(app: &App, request: &Parts, guard: &Model<Self>) -> Result<(), GuardDenied> {
        if guard.guards.is_empty() {
            return Ok(());
        }
        let depth = request.extensions.get::<Depth>().map_or(0, |d| d.0);
        if depth >= MAX_DEPTH {
            return Err(GuardDenied(
                "Composite content guards nest too deeply.".into(),
            ));
        }
        let mut inner = request.clone();
        inner.extensions.insert(Depth(depth + 1));
        let mut refusals = Vec::new();
        for reference in &guard.guards {
            let Some(id) = guard_id(reference) else {
                continue;
            };
            let member = match crate::models::get_master::<ContentGuardKind>(app.db(), id).await {
                Ok(member) => member,
                Err(_) => {
                    refusals.push(format!("Guard '{reference}' does not exist."));
                    continue;
                }
            };
            // Boxed: a member may be a composite guard itself.
            let decision: futures::future::BoxFuture<'_, Result<(), GuardDenied>> =
                Box::pin(evaluate(app, &inner, &member));
            match decision.await {
                Ok(()) => return Ok(()),
                Err(denied) => refusals.push(format!(
                    "Guard: '{}', HREF: '{reference}', denial: [{denied}].",
                    member.fields.name
                )),
            }
        }
        Err(GuardDenied(format!(
            "Access forbidden. Refusals: [{}]",
            refusals.join(", ")
        )))
    }
}
