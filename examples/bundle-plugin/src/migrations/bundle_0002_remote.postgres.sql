CREATE TABLE bundle_remote (
    pulp_id UUID PRIMARY KEY REFERENCES core_remote (pulp_id) ON DELETE CASCADE
);
