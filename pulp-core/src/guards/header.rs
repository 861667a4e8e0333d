//! `core/header` (a header's base64-decoded value, or a jq filter's result on it) and
//! `core/envvar_header` (a header against an environment variable of the content app).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use base64::Engine;
use http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::content_guard::{GuardDenied, GuardType};
use crate::models::{Column, ContentGuardKind, Detail, Model};
use crate::validation::{Validate, ValidationErrors};

/// A guard letting through requests whose header `header_name` holds, base64-encoded,
/// `header_value` — or a JSON document on which `jq_filter`'s first result is the string
/// `header_value` (`core.header`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeaderContentGuard {
    /// The header read.
    pub header_name: String,
    /// The value it must hold (or the filter must give).
    pub header_value: String,
    /// A jq filter applied to the header's decoded JSON.
    pub jq_filter: Option<String>,
}

type Filter = jaq_core::compile::Filter<jaq_core::Native<jaq_core::data::JustLut<jaq_json::Val>>>;

/// Compiles a jq filter (with jq's standard definitions), or says why it is not one.
fn compile(code: &str) -> Result<Filter, String> {
    use jaq_core::load::{Arena, File, Loader};
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(&arena, File { code, path: () })
        .map_err(|_| format!("'{code}' is not a valid jq filter."))?;
    jaq_core::Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|_| format!("'{code}' is not a valid jq filter."))
}

thread_local! {
    // Compiled filters by their text (a filter's values are not `Send`: one cache a thread).
    static FILTERS: RefCell<HashMap<String, Rc<Filter>>> = RefCell::new(HashMap::new());
}

/// Whether the first result of `code` on the JSON `document` is the string `expected`.
fn filter_gives(code: &str, document: &[u8], expected: &str) -> bool {
    use jaq_core::{data, unwrap_valr, Ctx, Vars};
    let Ok(input) = jaq_json::read::parse_single(document) else {
        return false;
    };
    let filter = FILTERS.with(|cache| {
        if let Some(filter) = cache.borrow().get(code) {
            return Some(filter.clone());
        }
        let filter = Rc::new(compile(code).ok()?);
        let mut cache = cache.borrow_mut();
        if cache.len() > 256 {
            cache.clear();
        }
        cache.insert(code.to_string(), filter.clone());
        Some(filter)
    });
    let Some(filter) = filter else {
        return false;
    };
    let ctx = Ctx::<data::JustLut<jaq_json::Val>>::new(&filter.lut, Vars::new([]));
    let first = filter.id.run((ctx, input)).map(unwrap_valr).next();
    matches!(first, Some(Ok(jaq_json::Val::TStr(s))) if s.as_ref() == expected.as_bytes())
}

fn required(errors: &mut ValidationErrors, field: &str, value: &str) {
    if value.trim().is_empty() {
        errors.add(field, "This field may not be blank.");
    }
}

impl Validate for HeaderContentGuard {
    fn validate(&self, errors: &mut ValidationErrors) {
        required(errors, "header_name", &self.header_name);
        required(errors, "header_value", &self.header_value);
        if http::HeaderName::from_bytes(self.header_name.as_bytes()).is_err() {
            errors.add("header_name", "Not a valid HTTP header name.");
        }
        if let Some(code) = &self.jq_filter {
            if let Err(e) = compile(code) {
                errors.add("jq_filter", e);
            }
        }
    }
}

impl Detail for HeaderContentGuard {
    type Kind = ContentGuardKind;
    const PULP_TYPE: &'static str = "core.header";
    const TABLE: &'static str = "core_headercontentguard";
    const COLUMNS: &'static [Column] = &[
        Column::text("header_name"),
        Column::text("header_value"),
        Column::text("jq_filter"),
    ];
    const PRN_MODEL: &'static str = "core.headercontentguard";
    const ENDPOINT: &'static str = "core/header";
    const HREF_PARAM: &'static str = "header_content_guard_href";
}

/// The base64-decoded value of header `name`, or Pulp's refusal.
fn decoded_header(request: &Parts, name: &str) -> Result<Vec<u8>, GuardDenied> {
    let denied = || GuardDenied("Access denied.".into());
    let value = request
        .headers
        .get(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(denied)?;
    base64::engine::general_purpose::STANDARD
        .decode(value.as_bytes())
        .map_err(|_| denied())
}

impl GuardType for HeaderContentGuard {
    async fn permit(_app: &App, request: &Parts, guard: &Model<Self>) -> Result<(), GuardDenied> {
        let decoded = decoded_header(request, &guard.header_name)?;
        let matches = match &guard.jq_filter {
            Some(code) => filter_gives(code, &decoded, &guard.header_value),
            None => decoded == guard.header_value.as_bytes(),
        };
        if matches {
            Ok(())
        } else {
            Err(GuardDenied("Access denied.".into()))
        }
    }
}

/// A guard letting through requests whose header `header_name` holds, base64-encoded, the
/// value of the content app's environment variable `env_var` (which must be listed in the
/// `envvar_header_content_guard_allowed_vars` setting; its value is never stored or shown)
/// (`core.envvar_header`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvVarHeaderContentGuard {
    /// The header read.
    pub header_name: String,
    /// The environment variable holding the expected value.
    pub env_var: String,
}

impl Validate for EnvVarHeaderContentGuard {
    fn validate(&self, errors: &mut ValidationErrors) {
        required(errors, "header_name", &self.header_name);
        required(errors, "env_var", &self.env_var);
        if http::HeaderName::from_bytes(self.header_name.as_bytes()).is_err() {
            errors.add("header_name", "Not a valid HTTP header name.");
        }
        if !self
            .env_var
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            errors.add("env_var", "Not a valid environment variable name.");
        }
    }
}

impl Detail for EnvVarHeaderContentGuard {
    type Kind = ContentGuardKind;
    const PULP_TYPE: &'static str = "core.envvar_header";
    const TABLE: &'static str = "core_envvarheadercontentguard";
    const COLUMNS: &'static [Column] = &[Column::text("header_name"), Column::text("env_var")];
    const PRN_MODEL: &'static str = "core.envvarheadercontentguard";
    const ENDPOINT: &'static str = "core/envvar_header";
    const HREF_PARAM: &'static str = "env_var_header_content_guard_href";
}

impl GuardType for EnvVarHeaderContentGuard {
    async fn permit(app: &App, request: &Parts, guard: &Model<Self>) -> Result<(), GuardDenied> {
        let denied = || GuardDenied("Access denied.".into());
        let allowed: Vec<String> = app
            .settings()
            .extra_value(super::ENVVAR_ALLOWED_SETTING)
            .ok()
            .flatten()
            .unwrap_or_default();
        if !allowed.iter().any(|v| v == &guard.env_var) {
            tracing::warn!(env_var = %guard.env_var, "envvar_header guard names a variable not allowed by {}", super::ENVVAR_ALLOWED_SETTING);
            return Err(denied());
        }
        let expected = std::env::var(&guard.env_var).map_err(|_| denied())?;
        let decoded = decoded_header(request, &guard.header_name)?;
        // Digests compared: no timing tells how much of a guess was right.
        use sha2::{Digest, Sha256};
        if !expected.is_empty() && Sha256::digest(&decoded) == Sha256::digest(expected.as_bytes()) {
            Ok(())
        } else {
            Err(denied())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_and_pick_the_first_result() {
        for code in [
            ".identity.org_id",
            ".a[0]",
            ".x | select(. != null)",
            "map(.a) | .[0]",
        ] {
            compile(code).unwrap_or_else(|e| panic!("{code}: {e}"));
        }
        for bad in [".a | [", "", "nosuchfunction(1)"] {
            assert!(compile(bad).is_err(), "{bad}");
        }
        assert!(filter_gives(".a.b", br#"{"a": {"b": "x"}}"#, "x"));
        assert!(!filter_gives(".a.b", br#"{"a": {"b": "y"}}"#, "x"));
        assert!(
            !filter_gives(".a", br#"{"a": 1}"#, "1"),
            "a number is not the string"
        );
        assert!(!filter_gives(".a", b"not json", "x"));
    }
}
