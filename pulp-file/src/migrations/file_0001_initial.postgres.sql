CREATE TABLE file_filecontent (
    pulp_id UUID PRIMARY KEY REFERENCES core_content (pulp_id) ON DELETE CASCADE,
    pulp_domain TEXT NOT NULL,
    relative_path TEXT NOT NULL,
    digest TEXT NOT NULL,
    UNIQUE (relative_path, digest, pulp_domain)
);
CREATE INDEX file_filecontent_digest ON file_filecontent (digest);

CREATE TABLE file_fileremote (
    pulp_id UUID PRIMARY KEY REFERENCES core_remote (pulp_id) ON DELETE CASCADE
);

CREATE TABLE file_filerepository (
    pulp_id UUID PRIMARY KEY REFERENCES core_repository (pulp_id) ON DELETE CASCADE,
    manifest TEXT,
    autopublish BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE file_filepublication (
    pulp_id UUID PRIMARY KEY REFERENCES core_publication (pulp_id) ON DELETE CASCADE,
    manifest TEXT
);

CREATE TABLE file_filedistribution (
    pulp_id UUID PRIMARY KEY REFERENCES core_distribution (pulp_id) ON DELETE CASCADE
);
