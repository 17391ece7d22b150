-- depends: 0006_task_counts
-- Back to one manual order per user: a user with several lists gets positions in the order
-- of their lists, then of the tasks within each (as 0003 numbered them: 'a', four base-62
-- digits of the rank, 'V'); a user with one list keeps every position.
ALTER TABLE tasks DROP CONSTRAINT tasks_user_list_position_key;
WITH ranked AS (
    SELECT t.id, row_number() OVER (
               PARTITION BY t.user_id ORDER BY l.position COLLATE "C", t.position COLLATE "C", t.id
           ) AS n
    FROM tasks AS t JOIN lists AS l ON l.id = t.list_id
    WHERE t.user_id IN (SELECT user_id FROM lists GROUP BY user_id HAVING count(*) > 1)
)
UPDATE tasks AS t SET position = 'a' || (
    SELECT string_agg(
        substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
               ((ranked.n / (62 ^ k)::bigint) % 62)::int + 1, 1), '' ORDER BY k DESC)
    FROM generate_series(0, 3) AS k
) || 'V'
FROM ranked
WHERE ranked.id = t.id;

DROP FUNCTION list_counts(text, bigint);
DELETE FROM task_counts WHERE list_id <> 0;
ALTER TABLE task_counts DROP CONSTRAINT task_counts_pkey;
ALTER TABLE task_counts DROP COLUMN list_id;
ALTER TABLE task_counts ADD CONSTRAINT task_counts_pkey PRIMARY KEY (user_id, tag);

CREATE OR REPLACE FUNCTION tasks_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION tasks_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION tasks_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP FUNCTION task_count_scopes(bigint, text[]);

DROP FUNCTION list_move_position(text, bigint, bigint);
DROP FUNCTION task_move_position(text, bigint, bigint, bigint);
CREATE FUNCTION task_move_position(owner text, moved bigint, after_task bigint) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    lo text COLLATE "C";
    hi text COLLATE "C";
    mine text COLLATE "C";
BEGIN
    SELECT position INTO mine FROM tasks WHERE id = moved AND user_id = owner;
    IF after_task IS NOT NULL THEN
        SELECT position INTO lo FROM tasks
        WHERE id = after_task AND user_id = owner AND id <> moved;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'task % cannot be moved after task %', moved, after_task
                USING ERRCODE = 'no_data_found';
        END IF;
    END IF;
    SELECT min(position) INTO hi FROM tasks
    WHERE user_id = owner AND id <> moved AND (lo IS NULL OR position > lo);
    IF (lo IS NULL OR mine > lo) AND (hi IS NULL OR mine < hi) THEN
        RETURN mine;
    END IF;
    RETURN position_between(lo, hi);
END;
$$;
DROP FUNCTION position_in_gap(text, text, text);

CREATE OR REPLACE FUNCTION tasks_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.title, NEW.description, NEW.completed, NEW.completed_at, NEW.due_date,
        NEW.priority, NEW.tags, NEW.position)
       IS DISTINCT FROM
       (OLD.title, OLD.description, OLD.completed, OLD.completed_at, OLD.due_date,
        OLD.priority, OLD.tags, OLD.position)
    THEN
        NEW.version := OLD.version + 1;
        NEW.updated_at := now();
    ELSE
        NEW.version := OLD.version;
        NEW.updated_at := OLD.updated_at;
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER tasks_05_position ON tasks;
CREATE OR REPLACE FUNCTION tasks_top_position() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.position IS NULL THEN
        NEW.position := position_before(
            (SELECT min(position) FROM tasks WHERE user_id = NEW.user_id));
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER tasks_05_position BEFORE INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_top_position();

DROP INDEX tasks_user_position_idx;
ALTER TABLE tasks ADD CONSTRAINT tasks_user_position_key UNIQUE (user_id, position);
ALTER TABLE tasks DROP CONSTRAINT tasks_list_fkey;
ALTER TABLE tasks DROP COLUMN list_id;

DROP TRIGGER users_10_default_list ON users;
DROP FUNCTION users_default_list();
DROP TABLE lists;
DROP FUNCTION lists_bottom_position();
DROP FUNCTION lists_bump_version();
