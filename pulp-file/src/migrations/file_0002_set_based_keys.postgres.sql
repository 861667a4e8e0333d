-- The detail row of a file names its master row through a set-based reference (core
-- migration 0009_set_based_keys): checked per statement, cascaded per statement.
SELECT pulp_set_based_reference('file_filecontent', 'pulp_id', 'core_content',
    'file_filecontent_pulp_id_fkey');
