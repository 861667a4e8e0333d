-- Every list of a content type answers its exact total, `COUNT(*) ... WHERE pulp_type = ?`,
-- which walks an index entry per unit of the type. 0007 dropped this index as a prefix of
-- core_content_type_order, whose entries (type, time, id) are several times wider: the
-- count of 100,000 units took 4–5 ms through them and most of a page's time. One entry per
-- unit with the type alone (on PostgreSQL deduplicated into posting lists) is cheap to add
-- and to walk.
CREATE INDEX core_content_type ON core_content (pulp_type);
