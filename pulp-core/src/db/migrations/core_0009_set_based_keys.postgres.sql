-- Set-based references for the tables a sync fills in bulk.
--
-- A declared foreign key checks every inserted row on its own: an executor run per row that
-- finds and locks the referenced row (a third of PostgreSQL's time in an on_demand sync of
-- new units). For the references below the same guarantees are kept per statement instead:
-- - pulp_reference_check (AFTER INSERT, per statement): locks the referenced rows of all
--   the inserted rows FOR KEY SHARE (the lock a foreign key takes) in one query, and fails
--   with foreign_key_violation (23503) when one of them does not exist; a referenced row
--   that another transaction is deleting is waited for, and then missing;
-- - pulp_reference_cascade (AFTER DELETE of the referenced table, per statement): deletes
--   the rows naming the deleted ones (ON DELETE CASCADE); a delete waits for the locks
--   above, so it sees, and deletes, what a transaction that locked its rows inserted;
-- - pulp_reference_update_check (BEFORE UPDATE OF the column, per row): a new value is
--   checked and locked like an inserted one (nothing updates these columns today).
-- The referenced key is always `pulp_id`; the arguments are the referenced table, then the
-- referencing column (the cascade: the referencing table, then the column).

CREATE FUNCTION pulp_reference_missing(child TEXT, col TEXT, parent TEXT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'insert or update on table "%" violates foreign key on "%": a row of "%" it names does not exist',
        child, col, parent
        USING ERRCODE = 'foreign_key_violation', TABLE = child, COLUMN = col;
END
$$;

CREATE FUNCTION pulp_reference_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent TEXT := TG_ARGV[0];
    col TEXT := TG_ARGV[1];
    wanted BIGINT;
    locked BIGINT;
BEGIN
    EXECUTE format('SELECT count(DISTINCT %I) FROM pulp_inserted_rows', col) INTO wanted;
    IF wanted = 0 THEN
        RETURN NULL;
    END IF;
    EXECUTE format(
        'SELECT count(*) FROM (SELECT 1 FROM (SELECT DISTINCT %I AS id FROM pulp_inserted_rows) i '
        'JOIN %I p ON p.pulp_id = i.id FOR KEY SHARE OF p) AS locked',
        col, parent) INTO locked;
    IF locked < wanted THEN
        PERFORM pulp_reference_missing(TG_TABLE_NAME, col, parent);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION pulp_reference_update_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent TEXT := TG_ARGV[0];
    col TEXT := TG_ARGV[1];
    old_value UUID;
    new_value UUID;
    locked BIGINT;
BEGIN
    EXECUTE format('SELECT ($1).%1$I, ($2).%1$I', col) INTO old_value, new_value USING OLD, NEW;
    IF new_value IS NULL OR new_value IS NOT DISTINCT FROM old_value THEN
        RETURN NEW;
    END IF;
    EXECUTE format('SELECT 1 FROM %I p WHERE p.pulp_id = $1 FOR KEY SHARE OF p', parent) USING new_value;
    GET DIAGNOSTICS locked = ROW_COUNT;
    IF locked = 0 THEN
        PERFORM pulp_reference_missing(TG_TABLE_NAME, col, parent);
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION pulp_reference_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'DELETE FROM %I c USING (SELECT DISTINCT pulp_id FROM pulp_deleted_rows) d WHERE c.%I = d.pulp_id',
        TG_ARGV[0], TG_ARGV[1]);
    RETURN NULL;
END
$$;

-- Replaces the foreign key `fkey` (`child.col REFERENCES parent (pulp_id) ON DELETE CASCADE`)
-- with the three triggers above. Plugins may call it for their own tables.
CREATE FUNCTION pulp_set_based_reference(child TEXT, col TEXT, parent TEXT, fkey TEXT)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', child, fkey);
    EXECUTE format(
        'CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS pulp_inserted_rows '
        'FOR EACH STATEMENT EXECUTE FUNCTION pulp_reference_check(%L, %L)',
        child || '_' || col || '_check', child, parent, col);
    EXECUTE format(
        'CREATE TRIGGER %I BEFORE UPDATE OF %I ON %I '
        'FOR EACH ROW EXECUTE FUNCTION pulp_reference_update_check(%L, %L)',
        child || '_' || col || '_update', col, child, parent, col);
    EXECUTE format(
        'CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS pulp_deleted_rows '
        'FOR EACH STATEMENT EXECUTE FUNCTION pulp_reference_cascade(%L, %L)',
        child || '_' || col || '_cascade', parent, child, col);
END
$$;

SELECT pulp_set_based_reference('core_contentartifact', 'content_id', 'core_content',
    'core_contentartifact_content_id_fkey');
SELECT pulp_set_based_reference('core_remoteartifact', 'content_artifact_id', 'core_contentartifact',
    'core_remoteartifact_content_artifact_id_fkey');
SELECT pulp_set_based_reference('core_remoteartifact', 'remote_id', 'core_remote',
    'core_remoteartifact_remote_id_fkey');
SELECT pulp_set_based_reference('core_repositorycontent', 'repository_id', 'core_repository',
    'core_repositorycontent_repository_id_fkey');
