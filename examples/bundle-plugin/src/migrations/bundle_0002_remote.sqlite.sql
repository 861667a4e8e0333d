CREATE TABLE bundle_remote (
    pulp_id TEXT PRIMARY KEY REFERENCES core_remote (pulp_id) ON DELETE CASCADE
);
