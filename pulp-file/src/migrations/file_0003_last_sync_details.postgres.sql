-- What the last sync of a repository was made from (remote, url, policy, mirror, version,
-- manifest checksum): an optimized sync is skipped when nothing of it changed.
ALTER TABLE file_filerepository ADD COLUMN last_sync_details JSONB NOT NULL DEFAULT '{}';
