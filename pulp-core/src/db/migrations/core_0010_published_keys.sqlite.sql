-- SQLite checks a foreign key with an index probe per row, in process: nothing to change
-- (see the PostgreSQL version of this migration).
SELECT 1;
