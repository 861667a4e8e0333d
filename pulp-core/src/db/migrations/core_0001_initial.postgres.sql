CREATE TABLE core_appstatus (
    pulp_id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    app_type TEXT NOT NULL CHECK (app_type IN ('api', 'content', 'worker')),
    versions JSONB NOT NULL DEFAULT '{}',
    pulp_created TIMESTAMPTZ NOT NULL,
    last_heartbeat TIMESTAMPTZ NOT NULL,
    UNIQUE (app_type, name)
);
CREATE INDEX core_appstatus_heartbeat ON core_appstatus (app_type, last_heartbeat);

CREATE TABLE core_user (
    pulp_id UUID PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    date_joined TIMESTAMPTZ NOT NULL
);

CREATE TABLE core_pulptemporaryfile (
    pulp_id UUID PRIMARY KEY,
    file TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    pulp_created TIMESTAMPTZ NOT NULL
);
