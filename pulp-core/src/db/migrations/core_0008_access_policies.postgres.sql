-- The access policy of each viewset (a group of API operations), seeded from the defaults
-- the core and plugins declare; `customized` once changed through the API (a customized
-- policy keeps its statements across upgrades until it is reset). JSON documents as text.
CREATE TABLE core_accesspolicy (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    viewset_name TEXT NOT NULL UNIQUE,
    statements TEXT NOT NULL,
    creation_hooks TEXT NOT NULL DEFAULT '[]',
    queryset_scoping TEXT,
    customized BOOLEAN NOT NULL DEFAULT FALSE
);
