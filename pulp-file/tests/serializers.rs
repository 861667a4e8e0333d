//! Create bodies: typed, validated, errors by field in Pulp's shape; relative paths confined.

use pulp_file::serializers::{
    FileContentBody, FileDistributionBody, FilePublicationBody, FileRemoteBody, FileRepositoryBody,
};
use pulp_plugin_api::validation::{
    parse_body, validate_relative_path, RelativePathError, ValidationErrors,
};
use pulp_plugin_api::ApiError;
use serde_json::json;

fn errors<B: pulp_plugin_api::validation::Body + std::fmt::Debug>(
    body: serde_json::Value,
) -> ValidationErrors {
    match parse_body::<B>(body) {
        Err(e) => e,
        Ok(b) => panic!("expected errors, got {b:?}"),
    }
}

const REPO: &str = "/pulp/api/v3/repositories/file/file/0b3a4c3e-8a3f-4f6e-9a55-0a6f3c1f9d11/";

#[test]
fn a_valid_remote_body_parses_with_pulps_defaults() {
    let body: FileRemoteBody = parse_body(json!({
        "name": "r", "url": "https://example.org/PULP_MANIFEST", "password": "p", "username": "u"
    }))
    .expect("valid");
    let (_, fields, _) = body.into_parts();
    assert!(fields.tls_validation);
    assert_eq!(fields.password.as_deref(), Some("p"));
    assert_eq!(
        serde_json::to_value(fields.policy).expect("json"),
        "immediate"
    );
}

#[test]
fn unknown_fields_are_refused_by_name() {
    let e = errors::<FileRemoteBody>(
        json!({"name": "r", "url": "https://x/", "colour": "red", "sizee": 1}),
    );
    assert_eq!(e.messages("colour"), ["Unexpected field."]);
    assert_eq!(e.messages("sizee"), ["Unexpected field."]);
}

#[test]
fn missing_and_mistyped_fields_name_the_field() {
    let e = errors::<FileRemoteBody>(json!({"url": "https://x/"}));
    assert_eq!(e.messages("name"), ["This field is required."]);
    let e = errors::<FileRemoteBody>(
        json!({"name": "r", "url": "https://x/", "download_concurrency": "many"}),
    );
    assert_eq!(
        e.fields().collect::<Vec<_>>(),
        ["download_concurrency"],
        "{e}"
    );
    let e =
        errors::<FileRemoteBody>(json!({"name": "r", "url": "https://x/", "policy": "sometimes"}));
    assert_eq!(e.fields().collect::<Vec<_>>(), ["policy"], "{e}");
    let e = errors::<FileRemoteBody>(
        json!({"name": "", "url": "ftp://x/", "download_concurrency": 0, "total_timeout": -1.0}),
    );
    for field in ["name", "url", "download_concurrency", "total_timeout"] {
        assert!(!e.messages(field).is_empty(), "{field} not reported: {e}");
    }
    let e = errors::<FileRemoteBody>(json!([1, 2]));
    assert!(!e.messages("non_field_errors").is_empty());
}

#[test]
fn validation_errors_answer_400_in_pulps_shape() {
    let e = errors::<FileRepositoryBody>(
        json!({"name": "r", "retain_repo_versions": 0, "manifest": "../M"}),
    );
    let api: ApiError = e.clone().into();
    match api {
        ApiError::Validation(map) => {
            assert!(
                map.contains_key("retain_repo_versions") && map.contains_key("manifest"),
                "{map:?}"
            );
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_eq!(
        serde_json::to_value(&e).expect("json")["retain_repo_versions"][0],
        "Ensure this value is greater than or equal to 1."
    );
}

#[test]
fn repository_body_defaults_and_references() {
    let body: FileRepositoryBody = parse_body(json!({"name": "r"})).expect("valid");
    let (_, fields, detail) = body.into_parts();
    assert_eq!(fields.name, "r");
    assert_eq!(detail.manifest.as_deref(), Some("PULP_MANIFEST"));
    assert!(!detail.autopublish);
    let e = errors::<FileRepositoryBody>(
        json!({"name": "r", "remote": "/pulp/api/v3/remotes/rpm/rpm/x/"}),
    );
    assert!(!e.messages("remote").is_empty(), "{e}");
}

#[test]
fn content_body_refuses_path_traversal_on_relative_path() {
    for path in [
        "../x",
        "/abs",
        "a/../../b",
        "a\0b",
        "",
        "a//b",
        "./a",
        "a\\..\\b",
        "C:/x",
        "dir/",
    ] {
        let e = errors::<FileContentBody>(json!({
            "relative_path": path, "artifact": "/pulp/api/v3/artifacts/0b3a4c3e-8a3f-4f6e-9a55-0a6f3c1f9d11/"
        }));
        assert!(
            !e.messages("relative_path").is_empty(),
            "{path:?} was accepted: {e}"
        );
    }
    let ok: FileContentBody = parse_body(json!({
        "relative_path": "a/b/c.iso",
        "artifact": "/pulp/api/v3/artifacts/0b3a4c3e-8a3f-4f6e-9a55-0a6f3c1f9d11/",
        "repository": REPO,
    }))
    .expect("valid");
    assert!(ok.artifact_id().is_some() && ok.repository_id().is_some());
    let e = errors::<FileContentBody>(json!({"relative_path": "a"}));
    assert!(!e.messages("non_field_errors").is_empty(), "{e}");
}

#[test]
fn relative_path_rules() {
    assert_eq!(validate_relative_path("a/b.txt"), Ok("a/b.txt"));
    assert!(matches!(
        validate_relative_path("../x"),
        Err(RelativePathError::Traversal(_))
    ));
    assert!(matches!(
        validate_relative_path("a/../../b"),
        Err(RelativePathError::Traversal(_))
    ));
    assert!(matches!(
        validate_relative_path("/abs"),
        Err(RelativePathError::Absolute(_))
    ));
    assert!(matches!(
        validate_relative_path("a\0"),
        Err(RelativePathError::ForbiddenCharacter(_))
    ));
    assert!(matches!(
        validate_relative_path(""),
        Err(RelativePathError::Empty)
    ));
}

#[test]
fn publication_and_distribution_bodies() {
    let body: FilePublicationBody =
        parse_body(json!({"repository_version": format!("{REPO}versions/2/")})).expect("valid");
    assert_eq!(body.target().map(|(_, n)| n), Some(Some(2)));
    assert_eq!(body.detail().manifest.as_deref(), Some("PULP_MANIFEST"));
    let e = errors::<FilePublicationBody>(json!({}));
    assert!(!e.messages("non_field_errors").is_empty());
    let e = errors::<FilePublicationBody>(
        json!({"repository": REPO, "repository_version": format!("{REPO}versions/1/")}),
    );
    assert!(!e.messages("non_field_errors").is_empty());
    let body: FileDistributionBody =
        parse_body(json!({"name": "d", "base_path": "a/b", "repository": REPO})).expect("valid");
    assert!(body.into_parts().1.repository_id.is_some());
    let e = errors::<FileDistributionBody>(
        json!({"name": "d", "base_path": "../a", "repository": REPO, "publication": "/x/"}),
    );
    assert!(!e.messages("base_path").is_empty(), "{e}");
    assert!(!e.messages("publication").is_empty(), "{e}");
    assert!(!e.messages("non_field_errors").is_empty(), "{e}");
}
