-- Set-based references for the published artifacts, which a publication writes in bulk (one
-- row per unit of the published version, in one statement): a declared foreign key checked
-- each of them twice, an executor run per row per key (≈ half the time of publishing 5,000
-- units). Same guarantees, per statement, as in 0009_set_based_keys.
SELECT pulp_set_based_reference('core_publishedartifact', 'publication_id', 'core_publication',
    'core_publishedartifact_publication_id_fkey');
SELECT pulp_set_based_reference('core_publishedartifact', 'content_artifact_id',
    'core_contentartifact', 'core_publishedartifact_content_artifact_id_fkey');
