-- pulpcore's content-guard types (each a detail table of core_contentguard): rbac (who
-- holds core.download_rbaccontentguard), header (a header's value, optionally a jq filter
-- over its base64-decoded JSON), composite (any member allows; members kept as a JSON list
-- of hrefs in order), content_redirect (URLs signed with a per-guard secret, kept as hex)
-- and envvar_header (a header against an allowed environment variable of the content app).
CREATE TABLE core_rbaccontentguard (
    pulp_id UUID PRIMARY KEY REFERENCES core_contentguard (pulp_id) ON DELETE CASCADE
);

CREATE TABLE core_headercontentguard (
    pulp_id UUID PRIMARY KEY REFERENCES core_contentguard (pulp_id) ON DELETE CASCADE,
    header_name TEXT NOT NULL,
    header_value TEXT NOT NULL,
    jq_filter TEXT
);

CREATE TABLE core_compositecontentguard (
    pulp_id UUID PRIMARY KEY REFERENCES core_contentguard (pulp_id) ON DELETE CASCADE,
    guards JSONB NOT NULL DEFAULT '[]'
);

CREATE TABLE core_contentredirectcontentguard (
    pulp_id UUID PRIMARY KEY REFERENCES core_contentguard (pulp_id) ON DELETE CASCADE,
    shared_secret TEXT NOT NULL
);

CREATE TABLE core_envvarheadercontentguard (
    pulp_id UUID PRIMARY KEY REFERENCES core_contentguard (pulp_id) ON DELETE CASCADE,
    header_name TEXT NOT NULL,
    env_var TEXT NOT NULL
);

-- pulp-certguard's (its own app label in Pulp, kept here as core's tables are): a CA
-- certificate (PEM) the client certificate must chain to.
CREATE TABLE certguard_x509certguard (
    pulp_id UUID PRIMARY KEY REFERENCES core_contentguard (pulp_id) ON DELETE CASCADE,
    ca_certificate TEXT NOT NULL
);

CREATE TABLE certguard_rhsmcertguard (
    pulp_id UUID PRIMARY KEY REFERENCES core_contentguard (pulp_id) ON DELETE CASCADE,
    ca_certificate TEXT NOT NULL
);
