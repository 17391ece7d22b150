-- depends: 0005_accounts
-- Fast at every size (issue 13): a list's X-Total-Count and GET /tags read counts kept up to
-- date with every write, instead of counting a user's rows on every request; and substring
-- search (`q`) can use trigram indexes where pg_trgm is installed.

-- How many tasks each user has, and how many of them are completed: in all (tag '', which no
-- real tag can be: tags are 1 to 40 characters) and per tag. Kept by the trigger below in the
-- same transaction as the write, so a statement's snapshot sees counts that agree exactly with
-- the tasks it sees. Writes of one user already run one at a time (sql/_caller.sql takes the
-- user's row lock first), so these rows add no contention and no lock-order change.
CREATE TABLE task_counts (
    user_id   text   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tag       text   NOT NULL,
    tasks     bigint NOT NULL DEFAULT 0,
    completed bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, tag)
);
-- No CHECK (0 <= completed <= tasks): an upsert checks the row it would insert, and a delta
-- (one more completed, none more tasks) is not a valid count on its own. The invariant is
-- tested instead (tests/test_task_counts.py).

-- Each statement's rows are counted together (transition tables), so a COPY of a million rows
-- or a clear-completed of thousands changes each count row once: counted row by row, every
-- row would update the same count rows again and again inside one transaction, and each such
-- update walks the chain of versions the earlier ones left (quadratic time).
-- Rows leaving the counts only ever update them: when the account itself is being deleted its
-- counts are already gone (cascade), and an insert would then name a missing user.
CREATE FUNCTION tasks_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts AS c (user_id, tag, tasks, completed)
    SELECT r.user_id, tag, count(*), count(*) FILTER (WHERE r.completed)
    FROM new_rows AS r CROSS JOIN LATERAL unnest(array_prepend(''::text, r.tags)) AS tag
    GROUP BY r.user_id, tag
    ON CONFLICT (user_id, tag)
    DO UPDATE SET tasks = c.tasks + excluded.tasks, completed = c.completed + excluded.completed;
    RETURN NULL;
END;
$$;
CREATE FUNCTION tasks_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE task_counts AS c
    SET tasks = c.tasks - gone.tasks, completed = c.completed - gone.completed
    FROM (
        SELECT r.user_id, tag, count(*) AS tasks, count(*) FILTER (WHERE r.completed) AS completed
        FROM old_rows AS r CROSS JOIN LATERAL unnest(array_prepend(''::text, r.tags)) AS tag
        GROUP BY r.user_id, tag
    ) AS gone
    WHERE c.user_id = gone.user_id AND c.tag = gone.tag;
    RETURN NULL;
END;
$$;
-- An update counts only what changed: rows whose tags and completion stayed cancel out (a
-- title edit or a move writes nothing here).
CREATE FUNCTION tasks_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts AS c (user_id, tag, tasks, completed)
    SELECT r.user_id, tag, sum(r.sign), COALESCE(sum(r.sign) FILTER (WHERE r.completed), 0)
    FROM (
        SELECT user_id, tags, completed, 1 AS sign FROM new_rows
        UNION ALL
        SELECT user_id, tags, completed, -1 AS sign FROM old_rows
    ) AS r CROSS JOIN LATERAL unnest(array_prepend(''::text, r.tags)) AS tag
    GROUP BY r.user_id, tag
    HAVING sum(r.sign) <> 0 OR COALESCE(sum(r.sign) FILTER (WHERE r.completed), 0) <> 0
    ON CONFLICT (user_id, tag)
    DO UPDATE SET tasks = c.tasks + excluded.tasks, completed = c.completed + excluded.completed;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tasks_40_count_inserted AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_count_inserted();
CREATE TRIGGER tasks_41_count_deleted AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_count_deleted();
CREATE TRIGGER tasks_42_count_updated AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_count_updated();

INSERT INTO task_counts (user_id, tag, tasks, completed)
SELECT t.user_id, tag, count(*), count(*) FILTER (WHERE t.completed)
FROM tasks AS t CROSS JOIN LATERAL unnest(array_prepend(''::text, t.tags)) AS tag
GROUP BY t.user_id, tag;

-- Indexes that find one user's matches without walking other users' (PostgreSQL's contrib
-- extensions, in Debian's server, Neon, Supabase and the embedded server alike; both are
-- trusted, so a database owner may create them; where they cannot be created, every query
-- still works, only with the plans of before):
-- * pg_trgm: `q` is title or description ILIKE '%...%', which a trigram index can serve;
-- * btree_gin: lets one GIN index start with user_id, so a search or a tag filter intersects
--   the user's entries with the word's (a trigram or tag index alone would hand back every
--   user's matches of a common word, to be thrown away row by row).
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): q searches scan each user''s tasks', SQLERRM;
END;
$$;
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS btree_gin;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'btree_gin is not available (%): search and tag indexes span all users', SQLERRM;
END;
$$;
DO $$
DECLARE
    trigrams boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm');
    per_user boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin');
BEGIN
    IF trigrams AND per_user THEN
        EXECUTE 'CREATE INDEX tasks_user_title_trgm_idx ON tasks USING gin (user_id, title gin_trgm_ops)';
        EXECUTE 'CREATE INDEX tasks_user_description_trgm_idx ON tasks USING gin (user_id, description gin_trgm_ops)';
    ELSIF trigrams THEN
        EXECUTE 'CREATE INDEX tasks_title_trgm_idx ON tasks USING gin (title gin_trgm_ops)';
        EXECUTE 'CREATE INDEX tasks_description_trgm_idx ON tasks USING gin (description gin_trgm_ops)';
    END IF;
    IF per_user THEN
        EXECUTE 'CREATE INDEX tasks_user_tags_idx ON tasks USING gin (user_id, tags)';
        EXECUTE 'DROP INDEX tasks_tags_idx';
    END IF;
END;
$$;
