-- Content, artifacts, the master tables of every detail type, and repository versions.
-- Every master table has the same common columns; detail tables (one per plugin type)
-- are keyed by the master's pulp_id.

CREATE TABLE core_content (
    pulp_id TEXT PRIMARY KEY,
    pulp_type TEXT NOT NULL,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    pulp_labels TEXT NOT NULL DEFAULT '{}',
    pulp_domain TEXT NOT NULL DEFAULT 'default'
);
CREATE INDEX core_content_type ON core_content (pulp_type);

CREATE TABLE core_artifact (
    pulp_id TEXT PRIMARY KEY,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    pulp_domain TEXT NOT NULL DEFAULT 'default',
    file TEXT NOT NULL,
    size BIGINT NOT NULL,
    md5 TEXT,
    sha1 TEXT,
    sha224 TEXT,
    sha256 TEXT NOT NULL,
    sha384 TEXT,
    sha512 TEXT,
    UNIQUE (sha256, pulp_domain)
);

CREATE TABLE core_contentartifact (
    pulp_id TEXT PRIMARY KEY,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    content_id TEXT NOT NULL REFERENCES core_content (pulp_id) ON DELETE CASCADE,
    artifact_id TEXT REFERENCES core_artifact (pulp_id) ON DELETE RESTRICT,
    relative_path TEXT NOT NULL,
    UNIQUE (content_id, relative_path)
);
CREATE INDEX core_contentartifact_artifact ON core_contentartifact (artifact_id);

CREATE TABLE core_remote (
    pulp_id TEXT PRIMARY KEY,
    pulp_type TEXT NOT NULL,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    pulp_labels TEXT NOT NULL DEFAULT '{}',
    pulp_domain TEXT NOT NULL DEFAULT 'default',
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    policy TEXT NOT NULL DEFAULT 'immediate',
    ca_cert TEXT,
    client_cert TEXT,
    client_key TEXT,
    tls_validation BOOLEAN NOT NULL DEFAULT TRUE,
    proxy_url TEXT,
    proxy_username TEXT,
    proxy_password TEXT,
    username TEXT,
    password TEXT,
    max_retries BIGINT,
    total_timeout REAL,
    connect_timeout REAL,
    sock_connect_timeout REAL,
    sock_read_timeout REAL,
    headers TEXT NOT NULL DEFAULT '[]',
    download_concurrency BIGINT,
    rate_limit BIGINT,
    UNIQUE (pulp_domain, name)
);

CREATE TABLE core_remoteartifact (
    pulp_id TEXT PRIMARY KEY,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    content_artifact_id TEXT NOT NULL REFERENCES core_contentartifact (pulp_id) ON DELETE CASCADE,
    remote_id TEXT NOT NULL REFERENCES core_remote (pulp_id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    size BIGINT,
    md5 TEXT,
    sha1 TEXT,
    sha224 TEXT,
    sha256 TEXT,
    sha384 TEXT,
    sha512 TEXT,
    UNIQUE (content_artifact_id, remote_id)
);
CREATE INDEX core_remoteartifact_remote ON core_remoteartifact (remote_id);

CREATE TABLE core_repository (
    pulp_id TEXT PRIMARY KEY,
    pulp_type TEXT NOT NULL,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    pulp_labels TEXT NOT NULL DEFAULT '{}',
    pulp_domain TEXT NOT NULL DEFAULT 'default',
    name TEXT NOT NULL,
    description TEXT,
    retain_repo_versions BIGINT,
    retain_checkpoints BIGINT,
    remote_id TEXT REFERENCES core_remote (pulp_id) ON DELETE SET NULL,
    next_version BIGINT NOT NULL DEFAULT 0,
    UNIQUE (pulp_domain, name)
);

CREATE TABLE core_repositoryversion (
    pulp_id TEXT PRIMARY KEY,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    repository_id TEXT NOT NULL REFERENCES core_repository (pulp_id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    complete BOOLEAN NOT NULL DEFAULT FALSE,
    base_version_id TEXT REFERENCES core_repositoryversion (pulp_id) ON DELETE SET NULL,
    info TEXT NOT NULL DEFAULT '{}',
    UNIQUE (repository_id, number)
);

-- Membership: one row per stretch of versions a unit is in, so a version costs O(changes).
-- A unit is in version N when version_added <= N and (version_removed IS NULL or > N).
-- content_id has no foreign key on purpose: rows are only inserted by selecting from
-- core_content, and content may only be deleted when no row here names it (orphan cleanup
-- checks through the content_id index); a per-row key check costs a third of an insert.
CREATE TABLE core_repositorycontent (
    repository_id TEXT NOT NULL REFERENCES core_repository (pulp_id) ON DELETE CASCADE,
    content_id TEXT NOT NULL,
    version_added BIGINT NOT NULL,
    version_removed BIGINT,
    PRIMARY KEY (repository_id, content_id, version_added)
) WITHOUT ROWID;
CREATE UNIQUE INDEX core_repositorycontent_present
    ON core_repositorycontent (repository_id, content_id) WHERE version_removed IS NULL;
CREATE INDEX core_repositorycontent_added ON core_repositorycontent (repository_id, version_added);
CREATE INDEX core_repositorycontent_removed ON core_repositorycontent (repository_id, version_removed);
CREATE INDEX core_repositorycontent_content ON core_repositorycontent (content_id);

CREATE TABLE core_publication (
    pulp_id TEXT PRIMARY KEY,
    pulp_type TEXT NOT NULL,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    pulp_labels TEXT NOT NULL DEFAULT '{}',
    pulp_domain TEXT NOT NULL DEFAULT 'default',
    repository_version_id TEXT NOT NULL REFERENCES core_repositoryversion (pulp_id) ON DELETE CASCADE,
    complete BOOLEAN NOT NULL DEFAULT FALSE,
    pass_through BOOLEAN NOT NULL DEFAULT FALSE,
    checkpoint BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX core_publication_version ON core_publication (repository_version_id);

CREATE TABLE core_contentguard (
    pulp_id TEXT PRIMARY KEY,
    pulp_type TEXT NOT NULL,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    pulp_labels TEXT NOT NULL DEFAULT '{}',
    pulp_domain TEXT NOT NULL DEFAULT 'default',
    name TEXT NOT NULL,
    description TEXT,
    UNIQUE (pulp_domain, name)
);

CREATE TABLE core_distribution (
    pulp_id TEXT PRIMARY KEY,
    pulp_type TEXT NOT NULL,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    pulp_labels TEXT NOT NULL DEFAULT '{}',
    pulp_domain TEXT NOT NULL DEFAULT 'default',
    name TEXT NOT NULL,
    base_path TEXT NOT NULL,
    hidden BOOLEAN NOT NULL DEFAULT FALSE,
    checkpoint BOOLEAN NOT NULL DEFAULT FALSE,
    content_guard_id TEXT REFERENCES core_contentguard (pulp_id) ON DELETE SET NULL,
    repository_id TEXT REFERENCES core_repository (pulp_id) ON DELETE SET NULL,
    repository_version_id TEXT REFERENCES core_repositoryversion (pulp_id) ON DELETE SET NULL,
    publication_id TEXT REFERENCES core_publication (pulp_id) ON DELETE SET NULL,
    UNIQUE (pulp_domain, name),
    UNIQUE (pulp_domain, base_path)
);
