-- depends: 0002_title_whitespace
-- Tasks people plan with: a due date, a priority, tags, a manual order, and a version that
-- rises with every change of a value (ETags and conditional requests are built on it).
CREATE TYPE task_priority AS ENUM ('none', 'low', 'medium', 'high');

ALTER TABLE tasks
    ADD COLUMN due_date date,
    ADD COLUMN priority task_priority NOT NULL DEFAULT 'none',
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 20),
    ADD COLUMN position text COLLATE "C",
    ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);

-- Positions are strings of base-62 digits (0-9, A-Z, a-z: ascending in code-point order) that
-- never end in '0', so there is always room before and between two of them. Existing tasks get
-- a manual order, newest first: 'a', four digits of their rank, and a closing 'V'.
WITH ranked AS (
    SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY created_at DESC, id DESC) AS n
    FROM tasks
)
UPDATE tasks AS t SET position = 'a' || (
    SELECT string_agg(
        substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
               ((ranked.n / (62 ^ k)::bigint) % 62)::int + 1, 1), '' ORDER BY k DESC)
    FROM generate_series(0, 3) AS k
) || 'V'
FROM ranked
WHERE ranked.id = t.id;

ALTER TABLE tasks ALTER COLUMN position SET NOT NULL;
-- Positions are distinct per user: the manual order is total, whatever moves run at once.
ALTER TABLE tasks ADD CONSTRAINT tasks_user_position_key UNIQUE (user_id, position);

-- version and updated_at move when, and only when, a value of the task changes: stated once
-- here instead of in every statement that writes a task.
CREATE FUNCTION tasks_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER tasks_10_version BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_bump_version();

-- A position before `first` (NULL: the user has none yet). Decrements the first digit that has
-- room, so putting tasks on top again and again adds one character per 60 or so.
CREATE FUNCTION position_before(first text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    digits CONSTANT text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    head integer;
BEGIN
    IF first IS NULL OR first = '' THEN
        RETURN 'V';
    END IF;
    head := strpos(digits, left(first, 1)) - 1;
    IF head >= 2 THEN
        RETURN substr(digits, head, 1);  -- the digit before the first one
    END IF;
    -- '0' or '1': keep a '0' and find room further on ('0V' < '1...').
    IF head = 1 THEN
        RETURN '0V';
    END IF;
    RETURN '0' || position_before(substr(first, 2));
END;
$$;

-- A new task goes on top of its user's manual order unless the statement chose a position.
-- The query runs with a fresh snapshot (trigger functions are VOLATILE): after the statement
-- has locked the user's row (every task write does, see sql/_caller.sql) it sees every position
-- committed by the writers that held that lock before, so two creates never pick the same one;
-- rows inserted earlier by the same statement are seen too.
CREATE FUNCTION tasks_top_position() RETURNS trigger LANGUAGE plpgsql AS $$
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
