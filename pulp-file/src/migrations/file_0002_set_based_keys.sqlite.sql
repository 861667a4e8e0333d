-- Nothing to change on SQLite (see the PostgreSQL version of this migration).
SELECT 1;
