-- depends: 0006_task_counts
-- Lists (issue 20, docs/api.md "Lists"): every task is in one of its user's lists, and a
-- list is the scope of the manual order and of the kept counts that a user's whole pile was.
-- Every user has exactly one default list, `Inbox`, made with the account.

CREATE TABLE lists (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 1 to 100 characters, trimmed of Unicode White_Space (as users.name), no control character.
    name       text        NOT NULL CONSTRAINT lists_name_check CHECK (
        char_length(name) BETWEEN 1 AND 100
        AND name = btrim(name, E'\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000')
        AND name !~ '[\u0001-\u001F\u007F-\u009F]'
    ),
    is_default boolean     NOT NULL DEFAULT false,
    position   text        COLLATE "C" NOT NULL
        CONSTRAINT lists_position_check CHECK (position ~ '^[0-9A-Za-z]*[1-9A-Za-z]$'),
    version    integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- What tasks' (user_id, list_id) refers to: a task's list is always one of its user's.
    CONSTRAINT lists_user_id_key UNIQUE (user_id, id),
    -- The lists' own manual order (GET /lists), total per user.
    CONSTRAINT lists_user_position_key UNIQUE (user_id, position)
);
CREATE UNIQUE INDEX lists_user_name_key ON lists (user_id, lower(name));
CREATE UNIQUE INDEX lists_user_default_key ON lists (user_id) WHERE is_default;

-- A list's version and updated_at move when, and only when, one of its own values changes
-- (its name or position: its tasks and counts live elsewhere).
CREATE FUNCTION lists_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.name, NEW.position) IS DISTINCT FROM (OLD.name, OLD.position) THEN
        NEW.version := OLD.version + 1;
        NEW.updated_at := now();
    ELSE
        NEW.version := OLD.version;
        NEW.updated_at := OLD.updated_at;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER lists_10_version BEFORE UPDATE ON lists
    FOR EACH ROW EXECUTE FUNCTION lists_bump_version();

-- A new list goes to the bottom of its user's lists, and a user has at most 200. Checked here,
-- with a fresh snapshot taken after the statement locked the user's row (sql/list_insert.sql,
-- as every write of a user's lists or tasks does): two creates at once never both pass as the
-- 200th, and never pick one position.
CREATE FUNCTION lists_bottom_position() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    held bigint;
    last text COLLATE "C";
BEGIN
    SELECT count(*), max(position) INTO held, last FROM lists WHERE user_id = NEW.user_id;
    IF held >= 200 THEN
        RAISE EXCEPTION 'a user has at most 200 lists' USING ERRCODE = 'program_limit_exceeded';
    END IF;
    IF NEW.position IS NULL THEN
        NEW.position := position_after(last);
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER lists_05_position BEFORE INSERT ON lists
    FOR EACH ROW EXECUTE FUNCTION lists_bottom_position();

-- Every account has its Inbox from the moment it exists, however it was made (registration,
-- a trusted issuer's first token, an operator's SQL).
CREATE FUNCTION users_default_list() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lists (user_id, name, is_default) VALUES (NEW.id, 'Inbox', true);
    RETURN NULL;
END;
$$;
CREATE TRIGGER users_10_default_list AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION users_default_list();

INSERT INTO lists (user_id, name, is_default, position)
SELECT id, 'Inbox', true, 'V' FROM users;

-- Every existing task goes to its user's Inbox, keeping its position: a user's positions were
-- unique, so the Inbox holds them in their existing manual order. Not a change of any task's
-- value (the user triggers do not run: no new version, nothing in the change feed).
ALTER TABLE tasks ADD COLUMN list_id bigint;
ALTER TABLE tasks DISABLE TRIGGER USER;
UPDATE tasks AS t SET list_id = l.id FROM lists AS l WHERE l.user_id = t.user_id;
ALTER TABLE tasks ENABLE TRIGGER USER;
ALTER TABLE tasks ALTER COLUMN list_id SET NOT NULL;
-- Deleting a list deletes its tasks (each leaving its tombstone: trigger tasks_30_tombstone).
ALTER TABLE tasks ADD CONSTRAINT tasks_list_fkey FOREIGN KEY (user_id, list_id)
    REFERENCES lists (user_id, id) ON DELETE CASCADE;

-- The manual order is per list: positions are distinct within a list, and this index serves
-- sort=position within a list (and finds a list's tasks, for ?list= and the cascade above).
-- Across all of a user's lists, sort=position orders by position, then id.
ALTER TABLE tasks DROP CONSTRAINT tasks_user_position_key;
ALTER TABLE tasks ADD CONSTRAINT tasks_user_list_position_key UNIQUE (user_id, list_id, position);
CREATE INDEX tasks_user_position_idx ON tasks (user_id, position, id);

-- A new task goes on top of its list (its user's default list when it names none), and so does
-- a task that changes list by an update that leaves its position NULL (sql/task_update.sql).
-- The query runs with a fresh snapshot after the statement locked the user's row, as before.
CREATE OR REPLACE FUNCTION tasks_top_position() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.list_id IS NULL THEN
        NEW.list_id := (SELECT id FROM lists WHERE user_id = NEW.user_id AND is_default);
    END IF;
    IF NEW.position IS NULL THEN
        NEW.position := position_before(
            (SELECT min(position) FROM tasks WHERE user_id = NEW.user_id AND list_id = NEW.list_id));
    END IF;
    RETURN NEW;
END;
$$;
DROP TRIGGER tasks_05_position ON tasks;
-- (On an update only when the statement sets position: a toggle or a title edit pays nothing.)
CREATE TRIGGER tasks_05_position BEFORE INSERT OR UPDATE OF position ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_top_position();

-- A change of list is a change of value (even when the new position equals the old one).
CREATE OR REPLACE FUNCTION tasks_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.title, NEW.description, NEW.completed, NEW.completed_at, NEW.due_date,
        NEW.priority, NEW.tags, NEW.position
        , NEW.list_id
       )
       IS DISTINCT FROM
       (OLD.title, OLD.description, OLD.completed, OLD.completed_at, OLD.due_date,
        OLD.priority, OLD.tags, OLD.position
        , OLD.list_id
       )
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

-- Where a moved item goes, given its position now (`mine`, NULL when it comes from elsewhere)
-- and the neighbours of the gap it is moved into (`lo`, `hi`; NULL: open on that side): it
-- keeps its position when that is already in the gap, else takes one between. Stated once for
-- tasks and lists.
CREATE FUNCTION position_in_gap(mine text, lo text, hi text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN mine IS NOT NULL AND (lo IS NULL OR mine COLLATE "C" > lo COLLATE "C")
             AND (hi IS NULL OR mine COLLATE "C" < hi COLLATE "C") THEN mine
        ELSE position_between(lo, hi)
    END
$$;

-- The new position of task `moved` of user `owner` when moved into list `target` right after task
-- `after_task` (NULL: to the top of that list). VOLATILE, so its queries take a fresh snapshot
-- after the caller's statement locked the user's row (migration 0003 says why). `target` naming
-- no list of the owner's raises foreign_key_violation; `after_task` naming the task itself or no
-- task of that list raises no_data_found.
DROP FUNCTION task_move_position(text, bigint, bigint);
CREATE FUNCTION task_move_position(owner text, moved bigint, target bigint, after_task bigint)
RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    lo text COLLATE "C";
    hi text COLLATE "C";
    mine text COLLATE "C";
BEGIN
    PERFORM 1 FROM lists WHERE id = target AND user_id = owner;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'list % is not one of the user''s', target
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'tasks_list_fkey';
    END IF;
    SELECT position INTO mine FROM tasks WHERE id = moved AND user_id = owner AND list_id = target;
    IF after_task IS NOT NULL THEN
        SELECT position INTO lo FROM tasks
        WHERE id = after_task AND user_id = owner AND list_id = target AND id <> moved;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'task % cannot be moved after task %', moved, after_task
                USING ERRCODE = 'no_data_found';
        END IF;
    END IF;
    SELECT min(position) INTO hi FROM tasks
    WHERE user_id = owner AND list_id = target AND id <> moved AND (lo IS NULL OR position > lo);
    RETURN position_in_gap(mine, lo, hi);
END;
$$;

-- The same for list `moved` put right after list `after_list` (NULL: first).
CREATE FUNCTION list_move_position(owner text, moved bigint, after_list bigint) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    lo text COLLATE "C";
    hi text COLLATE "C";
    mine text COLLATE "C";
BEGIN
    SELECT position INTO mine FROM lists WHERE id = moved AND user_id = owner;
    IF after_list IS NOT NULL THEN
        SELECT position INTO lo FROM lists WHERE id = after_list AND user_id = owner AND id <> moved;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'list % cannot be moved after list %', moved, after_list
                USING ERRCODE = 'no_data_found';
        END IF;
    END IF;
    SELECT min(position) INTO hi FROM lists
    WHERE user_id = owner AND id <> moved AND (lo IS NULL OR position > lo);
    RETURN position_in_gap(mine, lo, hi);
END;
$$;

-- The kept counts (0006) count each task in every scope it belongs to: the user's whole pile
-- (list_id 0), in all (tag '') and per tag, and its own list, in all. The scopes are stated
-- once, here; the three count triggers keep their shape with them.
ALTER TABLE task_counts ADD COLUMN list_id bigint NOT NULL DEFAULT 0;
ALTER TABLE task_counts DROP CONSTRAINT task_counts_pkey;
ALTER TABLE task_counts ADD CONSTRAINT task_counts_pkey PRIMARY KEY (user_id, list_id, tag);

CREATE FUNCTION task_count_scopes(task_list bigint, task_tags text[])
RETURNS TABLE (list_id bigint, tag text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 0::bigint, scope_tag FROM unnest(array_prepend(''::text, task_tags)) AS scope_tag
    UNION ALL
    SELECT task_list, ''::text
$$;

CREATE OR REPLACE FUNCTION tasks_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts AS c (user_id, list_id, tag, tasks, completed)
    SELECT r.user_id, s.list_id, s.tag, count(*), count(*) FILTER (WHERE r.completed)
    FROM new_rows AS r CROSS JOIN LATERAL task_count_scopes(r.list_id, r.tags) AS s
    GROUP BY r.user_id, s.list_id, s.tag
    ON CONFLICT (user_id, list_id, tag)
    DO UPDATE SET tasks = c.tasks + excluded.tasks, completed = c.completed + excluded.completed;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE FUNCTION tasks_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE task_counts AS c
    SET tasks = c.tasks - gone.tasks, completed = c.completed - gone.completed
    FROM (
        SELECT r.user_id, s.list_id, s.tag, count(*) AS tasks,
               count(*) FILTER (WHERE r.completed) AS completed
        FROM old_rows AS r CROSS JOIN LATERAL task_count_scopes(r.list_id, r.tags) AS s
        GROUP BY r.user_id, s.list_id, s.tag
    ) AS gone
    WHERE c.user_id = gone.user_id AND c.list_id = gone.list_id AND c.tag = gone.tag;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE FUNCTION tasks_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts AS c (user_id, list_id, tag, tasks, completed)
    SELECT r.user_id, s.list_id, s.tag, sum(r.sign),
           COALESCE(sum(r.sign) FILTER (WHERE r.completed), 0)
    FROM (
        SELECT user_id, list_id, tags, completed, 1 AS sign FROM new_rows
        UNION ALL
        SELECT user_id, list_id, tags, completed, -1 AS sign FROM old_rows
    ) AS r CROSS JOIN LATERAL task_count_scopes(r.list_id, r.tags) AS s
    GROUP BY r.user_id, s.list_id, s.tag
    HAVING sum(r.sign) <> 0 OR COALESCE(sum(r.sign) FILTER (WHERE r.completed), 0) <> 0
    ON CONFLICT (user_id, list_id, tag)
    DO UPDATE SET tasks = c.tasks + excluded.tasks, completed = c.completed + excluded.completed;
    RETURN NULL;
END;
$$;

-- Every existing list's tasks are counted (an empty Inbox too).
INSERT INTO task_counts (user_id, list_id, tag, tasks, completed)
SELECT l.user_id, l.id, '', count(t.id), count(t.id) FILTER (WHERE t.completed)
FROM lists AS l LEFT JOIN tasks AS t ON t.list_id = l.id AND t.user_id = l.user_id
GROUP BY l.user_id, l.id;

-- A list's counts, as GET /lists shows them: read from the kept counts, never by counting the
-- list's tasks. One row always (0 and 0 for a list with no task yet).
CREATE FUNCTION list_counts(owner text, list bigint, OUT task_count bigint, OUT pending_count bigint)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT COALESCE(sum(c.tasks), 0)::bigint, COALESCE(sum(c.tasks - c.completed), 0)::bigint
    FROM task_counts AS c
    WHERE c.user_id = owner AND c.list_id = list AND c.tag = ''
$$;

-- A list id names one user: without being told, the planner multiplies the selectivities of
-- `user_id = ...` and `list_id = ...` as if they were independent, and thinks a big list holds
-- a few dozen rows (then sorts it instead of reading the list's order from its index).
CREATE STATISTICS tasks_user_list_stats (dependencies) ON user_id, list_id FROM tasks;
