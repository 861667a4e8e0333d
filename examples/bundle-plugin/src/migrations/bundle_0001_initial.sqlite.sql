CREATE TABLE bundle_blob (
    pulp_id TEXT PRIMARY KEY REFERENCES core_content (pulp_id) ON DELETE CASCADE,
    pulp_domain TEXT NOT NULL,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    UNIQUE (name, digest, pulp_domain)
);

CREATE TABLE bundle_bundle (
    pulp_id TEXT PRIMARY KEY REFERENCES core_content (pulp_id) ON DELETE CASCADE,
    pulp_domain TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    members TEXT NOT NULL DEFAULT '[]',
    UNIQUE (name, version, pulp_domain)
);

CREATE TABLE bundle_repository (
    pulp_id TEXT PRIMARY KEY REFERENCES core_repository (pulp_id) ON DELETE CASCADE
);
