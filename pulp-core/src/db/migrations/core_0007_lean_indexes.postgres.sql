-- Fewer index entries per added row (every sync and modify pays them):
-- - most membership rows are present (version_removed IS NULL); "removed in version N" is the
--   only lookup by version_removed, so its index holds only removed rows;
-- - core_content (pulp_type) is the prefix of core_content_type_order (0006).
DROP INDEX core_repositorycontent_removed;
CREATE INDEX core_repositorycontent_removed ON core_repositorycontent (repository_id, version_removed)
    WHERE version_removed IS NOT NULL;
DROP INDEX core_content_type;
