//! schemathesis (from PyPI) fuzzes every operation of the served OpenAPI document against the
//! real `pulp-server serve`: no input may produce a 5xx or a dropped connection.
//!
//! The `schemathesis` executable comes from `PULP_TEST_SCHEMATHESIS` (`.ci/run` installs it);
//! without it the test is skipped, except under CI.

mod support;

use std::process::Command;

use pulp_core::testing::{required_service, TestDatabase};
use support::{start_server, PASSWORD};

fn fuzz(program: &str, t: &TestDatabase) {
    let server = start_server(t);
    let output = Command::new(program)
        .args([
            "run",
            &format!("{}/pulp/api/v3/docs/api.json", server.api),
            "--checks",
            "not_a_server_error",
            "--auth",
            &format!("admin:{PASSWORD}"),
            "--max-examples",
            "10",
            "--workers",
            "1",
            // The stateful phase cannot take Pulp's href-templated paths (`{task_href}`).
            "--phases",
            "examples,coverage,fuzzing",
            "--seed",
            "20261126",
            // It would rename the administrator the fuzzer logs in as (every later
            // request a 401): `/login/`'s PATCH is tested in pulp-file/tests/rbac_scoping.rs.
            "--exclude-operation-id",
            "login_update",
            // Webhooks with generated URLs would make the worker deliver to hosts off this
            // machine; `/webhooks/` is tested with a loopback receiver in
            // pulp-core/tests/schedules_webhooks.rs.
            "--exclude-operation-id",
            "webhooks_create",
            "--exclude-operation-id",
            "webhooks_update",
            "--exclude-operation-id",
            "webhooks_partial_update",
            // Likewise a generated upstream's `base_url` (replication is tested over loopback
            // in pulp-file/tests/replication.rs).
            "--exclude-operation-id",
            "upstream_pulps_replicate",
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        // Its cache of findings goes in the test's scratch directory, not the source tree.
        .current_dir(t.dir.path())
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("Tested:"), "schemathesis did not run: {text}");
    for symptom in [
        "Server error",
        "Network Error",
        "Connection failed",
        "Undocumented HTTP status code 5",
    ] {
        assert!(
            !text.contains(symptom),
            "schemathesis found '{symptom}':\n{text}"
        );
    }
    assert!(output.status.success(), "schemathesis failed:\n{text}");
}

#[test]
fn schemathesis_finds_no_server_error_on_sqlite() {
    let Some(program) = required_service("PULP_TEST_SCHEMATHESIS", "schemathesis") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let t = runtime.block_on(TestDatabase::sqlite());
    fuzz(&program, &t);
}

#[test]
fn schemathesis_finds_no_server_error_on_postgres() {
    let Some(program) = required_service("PULP_TEST_SCHEMATHESIS", "schemathesis") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let Some(t) = runtime.block_on(TestDatabase::postgres()) else {
        return;
    };
    fuzz(&program, &t);
    runtime.block_on(t.cleanup());
}
