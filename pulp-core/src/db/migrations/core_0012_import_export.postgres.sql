-- Exporters (Pulp's `core.pulp` and `core.filesystem`), their exports, importers and their
-- imports. JSON documents (repository ids, parameters, file checksums) as text.
CREATE TABLE core_exporter (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    pulp_type TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    method TEXT,
    repositories TEXT NOT NULL DEFAULT '[]',
    last_export_id UUID
);

CREATE TABLE core_export (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    exporter_id UUID NOT NULL REFERENCES core_exporter (pulp_id) ON DELETE CASCADE,
    task_id UUID,
    params TEXT NOT NULL DEFAULT '{}',
    output_file_info TEXT,
    toc_info TEXT,
    exported_resources TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX core_export_exporter ON core_export (exporter_id, pulp_created);

CREATE TABLE core_importer (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    pulp_type TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    repo_mapping TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE core_import (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    importer_id UUID NOT NULL REFERENCES core_importer (pulp_id) ON DELETE CASCADE,
    task_id UUID,
    params TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX core_import_importer ON core_import (importer_id, pulp_created);
