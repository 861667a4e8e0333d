-- Lists page through each type of a kind in creation order: an index per master table on
-- (pulp_type, pulp_created, pulp_id) serves `WHERE pulp_type = ? ORDER BY pulp_created,
-- pulp_id LIMIT n` without sorting the table.
CREATE INDEX core_content_type_order ON core_content (pulp_type, pulp_created, pulp_id);
CREATE INDEX core_remote_type_order ON core_remote (pulp_type, pulp_created, pulp_id);
CREATE INDEX core_repository_type_order ON core_repository (pulp_type, pulp_created, pulp_id);
CREATE INDEX core_publication_type_order ON core_publication (pulp_type, pulp_created, pulp_id);
CREATE INDEX core_distribution_type_order ON core_distribution (pulp_type, pulp_created, pulp_id);
CREATE INDEX core_content_order ON core_content (pulp_created, pulp_id);
