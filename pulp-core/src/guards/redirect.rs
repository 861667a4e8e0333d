//! `core/content_redirect`: URLs signed with the guard's secret, valid until `expires`
//! (what pulpcore's API hands out when it redirects a client to the content app).

use http::request::Parts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::content_guard::{GuardDenied, GuardType};
use crate::models::{Column, ContentGuardKind, Detail, Model};
use crate::validation::{Validate, ValidationErrors};

/// How long a signed URL is valid (pulpcore's `EXPIRETIME`).
pub const SIGNED_URL_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

/// A guard letting through requests for URLs signed by [`preauthenticate_url`]
/// (`core.content_redirect`). Its secret is made at creation and never shown.
///
/// [`preauthenticate_url`]: ContentRedirectContentGuard::preauthenticate_url
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContentRedirectContentGuard {
    /// 32 random bytes, hex.
    pub shared_secret: String,
}

impl Default for ContentRedirectContentGuard {
    fn default() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self {
            shared_secret: hex::encode(bytes),
        }
    }
}

impl Validate for ContentRedirectContentGuard {
    fn validate(&self, errors: &mut ValidationErrors) {
        if hex::decode(&self.shared_secret).map_or(true, |s| s.is_empty()) {
            errors.add("shared_secret", "Not a valid secret.");
        }
    }
}

impl Detail for ContentRedirectContentGuard {
    type Kind = ContentGuardKind;
    const PULP_TYPE: &'static str = "core.content_redirect";
    const TABLE: &'static str = "core_contentredirectcontentguard";
    const COLUMNS: &'static [Column] = &[Column::text("shared_secret")];
    const PRN_MODEL: &'static str = "core.contentredirectcontentguard";
    const ENDPOINT: &'static str = "core/content_redirect";
    const HREF_PARAM: &'static str = "content_redirect_content_guard_href";

    fn api_response(response: &mut serde_json::Map<String, serde_json::Value>) {
        response.remove("shared_secret");
    }
}

impl ContentRedirectContentGuard {
    fn digest(&self, salt: &[u8], path: &str, query: &str) -> [u8; 32] {
        let secret = hex::decode(&self.shared_secret).unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(salt);
        hasher.update(path.as_bytes());
        hasher.update(b"?");
        hasher.update(query.as_bytes());
        hasher.update(&secret);
        hasher.finalize().into()
    }

    /// `url` (a content-app URL or path, with or without a query) signed until
    /// `now + SIGNED_URL_LIFETIME`: `expires=<unix time>&validate_token=<salt>:<digest>`
    /// appended, as pulpcore's `preauthenticate_url` does.
    pub fn preauthenticate_url(&self, url: &str, now: chrono::DateTime<chrono::Utc>) -> String {
        let salt: [u8; 32] = rand::random();
        self.sign_with_salt(
            url,
            now.timestamp() + SIGNED_URL_LIFETIME.as_secs() as i64,
            &salt,
        )
    }

    /// `url` signed valid until `expires` (unix time) with `salt`.
    pub fn sign_with_salt(&self, url: &str, expires: i64, salt: &[u8]) -> String {
        let separator = if url.contains('?') { '&' } else { '?' };
        let to_sign = format!("{url}{separator}expires={expires}");
        let (path, query) = split_url(&to_sign);
        let digest = self.digest(salt, path, query);
        format!(
            "{to_sign}&validate_token={}:{}",
            hex::encode(salt),
            hex::encode(digest)
        )
    }
}

/// The path and query of a URL or path (scheme and authority dropped).
fn split_url(url: &str) -> (&str, &str) {
    let without_origin = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => url,
    };
    without_origin
        .split_once('?')
        .unwrap_or((without_origin, ""))
}

impl GuardType for ContentRedirectContentGuard {
    async fn permit(_app: &App, request: &Parts, guard: &Model<Self>) -> Result<(), GuardDenied> {
        let not_authenticated = || GuardDenied("Access not authenticated".into());
        let query = request.uri.query().unwrap_or("");
        let value = |name: &str| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v)
        };
        let expires: i64 = value("expires")
            .and_then(|v| v.parse().ok())
            .ok_or_else(not_authenticated)?;
        if chrono::Utc::now().timestamp() > expires {
            return Err(GuardDenied("Authentication expired".into()));
        }
        let token = value("validate_token").ok_or_else(not_authenticated)?;
        let (salt, digest) = token.split_once(':').ok_or_else(not_authenticated)?;
        let salt = hex::decode(salt).map_err(|_| not_authenticated())?;
        let digest = hex::decode(digest).map_err(|_| not_authenticated())?;
        // What was signed: the URL up to the token (pulpcore drops `&validate_token=…$`).
        let signed_query = query
            .find("&validate_token=")
            .map_or(query, |i| &query[..i]);
        let expected = guard.digest(&salt, request.uri.path(), signed_query);
        if digest.as_slice() == expected.as_slice() {
            Ok(())
        } else {
            Err(not_authenticated())
        }
    }
}
