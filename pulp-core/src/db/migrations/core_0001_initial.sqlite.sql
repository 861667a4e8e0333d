CREATE TABLE core_appstatus (
    pulp_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    app_type TEXT NOT NULL CHECK (app_type IN ('api', 'content', 'worker')),
    versions TEXT NOT NULL DEFAULT '{}',
    pulp_created TEXT NOT NULL,
    last_heartbeat TEXT NOT NULL,
    UNIQUE (app_type, name)
);
CREATE INDEX core_appstatus_heartbeat ON core_appstatus (app_type, last_heartbeat);

CREATE TABLE core_user (
    pulp_id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    date_joined TEXT NOT NULL
);

CREATE TABLE core_pulptemporaryfile (
    pulp_id TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    pulp_created TEXT NOT NULL
);
