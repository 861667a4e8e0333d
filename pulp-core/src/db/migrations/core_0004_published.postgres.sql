-- What a publication serves: artifacts of the published version by relative path, and
-- metadata files (a PULP_MANIFEST, repodata…) the publisher generated, stored as artifacts.
-- Also the chunked uploads of the REST API.

CREATE TABLE core_publishedartifact (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    publication_id UUID NOT NULL REFERENCES core_publication (pulp_id) ON DELETE CASCADE,
    content_artifact_id UUID NOT NULL REFERENCES core_contentartifact (pulp_id) ON DELETE CASCADE,
    relative_path TEXT NOT NULL,
    UNIQUE (publication_id, relative_path)
);
CREATE INDEX core_publishedartifact_content_artifact ON core_publishedartifact (content_artifact_id);

CREATE TABLE core_publishedmetadata (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    publication_id UUID NOT NULL REFERENCES core_publication (pulp_id) ON DELETE CASCADE,
    artifact_id UUID NOT NULL REFERENCES core_artifact (pulp_id) ON DELETE RESTRICT,
    relative_path TEXT NOT NULL,
    UNIQUE (publication_id, relative_path)
);
CREATE INDEX core_publishedmetadata_artifact ON core_publishedmetadata (artifact_id);

CREATE TABLE core_upload (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    pulp_domain TEXT NOT NULL DEFAULT 'default',
    size BIGINT NOT NULL,
    file TEXT NOT NULL
);

CREATE TABLE core_uploadchunk (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    upload_id UUID NOT NULL REFERENCES core_upload (pulp_id) ON DELETE CASCADE,
    "offset" BIGINT NOT NULL,
    size BIGINT NOT NULL
);
CREATE INDEX core_uploadchunk_upload ON core_uploadchunk (upload_id);
