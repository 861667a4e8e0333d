-- Set-based references for the tables a sync fills in bulk.
--
-- A declared foreign key checks every inserted row on its own: an executor run per row that
-- finds and locks the referenced row (a third of PostgreSQL's time in an on_demand sync of
-- new units). For the references below the same guarantees are kept per statement instead:
-- - a check (AFTER INSERT, per statement): locks the referenced rows of all
--   the inserted rows FOR KEY SHARE (the lock a foreign key takes) in one query, and fails
--   with foreign_key_violation (23503) when one of them does not exist; a referenced row
--   that another transaction is deleting is waited for, and then missing;
-- - a cascade (AFTER DELETE of the referenced table, per statement): deletes
--   the rows naming the deleted ones (ON DELETE CASCADE); a delete waits for the locks
--   above, so it sees, and deletes, what a transaction that locked its rows inserted;
-- - pulp_reference_update_check (BEFORE UPDATE OF the column, per row): a new value is
--   checked and locked like an inserted one (nothing updates these columns today).
-- The referenced key is always `pulp_id`.

CREATE FUNCTION pulp_reference_missing(child TEXT, col TEXT, parent TEXT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'insert or update on table "%" violates foreign key on "%": a row of "%" it names does not exist',
        child, col, parent
        USING ERRCODE = 'foreign_key_violation', TABLE = child, COLUMN = col;
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

-- Replaces the foreign key `fkey` (`child.col REFERENCES parent (pulp_id) ON DELETE CASCADE`)
-- with three triggers. The check and the cascade are functions of their own per reference,
-- written with the table and column names in them, so that PL/pgSQL plans their queries
-- once per connection (not at every statement, as EXECUTE would). Plugins may call it for
-- their own tables.
CREATE FUNCTION pulp_set_based_reference(child TEXT, col TEXT, parent TEXT, fkey TEXT)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    check_fn TEXT := child || '_' || col || '_check';
    cascade_fn TEXT := child || '_' || col || '_cascade';
BEGIN
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', child, fkey);
    -- After an insert: lock every referenced row (as a foreign key does), in one query.
    EXECUTE format($fn$
        CREATE FUNCTION %1$I() RETURNS trigger LANGUAGE plpgsql AS $body$
        DECLARE
            wanted BIGINT;
            locked BIGINT;
        BEGIN
            SELECT count(DISTINCT %2$I) INTO wanted FROM pulp_inserted_rows;
            IF wanted > 0 THEN
                SELECT count(*) INTO locked FROM (
                    SELECT 1 FROM (SELECT DISTINCT %2$I AS id FROM pulp_inserted_rows) i
                    JOIN %3$I p ON p.pulp_id = i.id FOR KEY SHARE OF p) AS l;
                IF locked < wanted THEN
                    PERFORM pulp_reference_missing(%4$L, %2$L, %3$L);
                END IF;
            END IF;
            RETURN NULL;
        END
        $body$ $fn$, check_fn, col, parent, child);
    EXECUTE format(
        'CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS pulp_inserted_rows '
        'FOR EACH STATEMENT EXECUTE FUNCTION %I()',
        check_fn, child, check_fn);
    EXECUTE format(
        'CREATE TRIGGER %I BEFORE UPDATE OF %I ON %I '
        'FOR EACH ROW EXECUTE FUNCTION pulp_reference_update_check(%L, %L)',
        child || '_' || col || '_update', col, child, parent, col);
    -- After a delete of referenced rows: delete the rows naming them (ON DELETE CASCADE).
    EXECUTE format($fn$
        CREATE FUNCTION %1$I() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            DELETE FROM %2$I c USING (SELECT DISTINCT pulp_id FROM pulp_deleted_rows) d
            WHERE c.%3$I = d.pulp_id;
            RETURN NULL;
        END
        $body$ $fn$, cascade_fn, child, col);
    EXECUTE format(
        'CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS pulp_deleted_rows '
        'FOR EACH STATEMENT EXECUTE FUNCTION %I()',
        cascade_fn, parent, cascade_fn);
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
