-- depends: 0002_title_whitespace
-- Tasks people plan with: a due date, a priority, tags, a manual order, and a version that
-- rises with every change of a value (ETags and conditional requests are built on it).
CREATE TYPE task_priority AS ENUM ('none', 'low', 'medium', 'high');

-- The rules of a task's tags that the database states exactly as the API does
-- (todo_api/models.py, tests/test_schema_rules.py holds the two together): at most 20, each
-- 1 to 40 characters, trimmed of the white space the API trims, no control character and no
-- comma, no ASCII capital, no duplicate. (Lower-casing itself is the API's: PostgreSQL's lower()
-- and Python's disagree on some characters, so only the part both agree on is checked here.)
CREATE FUNCTION task_tags_valid(tags text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT cardinality(tags) <= 20
       AND array_ndims(tags) IS NOT DISTINCT FROM (CASE WHEN cardinality(tags) > 0 THEN 1 END)
       AND NOT EXISTS (
           SELECT 1 FROM unnest(tags) AS tag
           WHERE tag IS NULL
              OR char_length(tag) NOT BETWEEN 1 AND 40
              OR tag <> btrim(tag, E'\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000')
              OR tag ~ '[\u0001-\u001F\u007F-\u009F,A-Z]')
       AND cardinality(tags) = (SELECT count(DISTINCT tag) FROM unnest(tags) AS tag)
$$;

ALTER TABLE tasks
    ADD COLUMN due_date date
        CONSTRAINT tasks_due_date_check CHECK (due_date BETWEEN '0001-01-01' AND '9999-12-31'),
    ADD COLUMN priority task_priority NOT NULL DEFAULT 'none',
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}'
        CONSTRAINT tasks_tags_check CHECK (task_tags_valid(tags)),
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
ALTER TABLE tasks ADD CONSTRAINT tasks_position_check CHECK (position ~ '^[0-9A-Za-z]*[1-9A-Za-z]$');
-- Positions are distinct per user: the manual order is total, whatever moves run at once. This
-- index also serves sort=position.
ALTER TABLE tasks ADD CONSTRAINT tasks_user_position_key UNIQUE (user_id, position);

-- The list query's other sort orders (0001 has created, updated and title): each index starts
-- with user_id and ends with id (the tie-breaker). A due date sorts last when missing, in either
-- direction: one index per direction, each on the key expression the list query orders by.
CREATE INDEX tasks_user_due_asc_idx ON tasks (user_id, COALESCE(due_date, 'infinity'::date), id);
CREATE INDEX tasks_user_due_desc_idx ON tasks (user_id, COALESCE(due_date, '-infinity'::date), id);
CREATE INDEX tasks_user_priority_idx ON tasks (user_id, priority, id);
-- The tag filter (tags @> '{...}').
CREATE INDEX tasks_tags_idx ON tasks USING gin (tags);

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

-- Keys between keys (fractional indexing). A key is read in levels: at level n it starts with n
-- copies of the extreme digit ('0' going down, 'z' going up) followed by a block of n + 1 digits.
-- Stepping past a key steps its block by one; when a block runs out, the next level starts at
-- its far end. So k keys put one after another on the same side of a fixed neighbour (on top
-- again and again, or into the same gap again and again) grow only logarithmically in k: about
-- 60 keys of 1 digit, 3,700 of 3, 230,000 of 5.

-- A key before `hi` (NULL: the user has no task yet).
CREATE FUNCTION position_before(hi text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    digits CONSTANT text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    zeros integer;
    width integer;
    block text;
    i integer;
    d integer;
BEGIN
    IF hi IS NULL OR hi = '' THEN
        RETURN 'V';
    END IF;
    zeros := length(hi) - length(ltrim(hi, '0'));
    width := zeros + 1;
    -- The block after the zeros starts with a digit above '0' (a key never ends in '0').
    block := rpad(substr(hi, zeros + 1, width), width, '0');
    LOOP
        i := width;  -- block := block - 1
        LOOP
            d := strpos(digits, substr(block, i, 1)) - 1;
            IF d > 0 THEN
                block := overlay(block PLACING substr(digits, d, 1) FROM i FOR 1);
                EXIT;
            END IF;
            block := overlay(block PLACING 'z' FROM i FOR 1);
            i := i - 1;
        END LOOP;
        IF left(block, 1) = '0' THEN  -- this level is used up: the top of the next one
            RETURN repeat('0', zeros + 1) || repeat('z', width + 1);
        END IF;
        EXIT WHEN right(block, 1) <> '0';
    END LOOP;
    RETURN repeat('0', zeros) || block;
END;
$$;

-- A key after `lo` (NULL or '': the middle of an empty range).
CREATE FUNCTION position_after(lo text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    digits CONSTANT text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    zs integer;
    width integer;
    block text;
    i integer;
    d integer;
BEGIN
    IF lo IS NULL OR lo = '' THEN
        RETURN 'V';
    END IF;
    zs := length(lo) - length(ltrim(lo, 'z'));
    width := zs + 1;
    -- The block after the z's starts below 'z' (or is empty: then it reads as zeros).
    block := rpad(substr(lo, zs + 1, width), width, '0');
    LOOP
        i := width;  -- block := block + 1
        LOOP
            d := strpos(digits, substr(block, i, 1)) - 1;
            IF d < 61 THEN
                block := overlay(block PLACING substr(digits, d + 2, 1) FROM i FOR 1);
                EXIT;
            END IF;
            block := overlay(block PLACING '0' FROM i FOR 1);
            i := i - 1;
        END LOOP;
        IF left(block, 1) = 'z' THEN  -- this level is used up: the bottom of the next one
            RETURN repeat('z', zs + 1) || repeat('0', width) || '1';
        END IF;
        EXIT WHEN right(block, 1) <> '0';
    END LOOP;
    RETURN repeat('z', zs) || block;
END;
$$;

-- A key strictly between lo and hi (either NULL: open on that side); lo < hi.
CREATE FUNCTION position_between(lo text, hi text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    digits CONSTANT text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    p integer := 0;
    a integer;
    b integer;
BEGIN
    IF lo IS NULL THEN
        RETURN position_before(hi);
    END IF;
    IF hi IS NULL THEN
        RETURN position_after(lo);
    END IF;
    IF lo COLLATE "C" >= hi COLLATE "C" THEN
        RAISE EXCEPTION 'position_between: % is not before %', lo, hi;
    END IF;
    WHILE p < length(lo) AND substr(lo, p + 1, 1) = substr(hi, p + 1, 1) LOOP
        p := p + 1;
    END LOOP;
    IF p = length(lo) THEN  -- lo is a prefix of hi: lo, then a key before the rest of hi
        RETURN lo || position_before(substr(hi, p + 1));
    END IF;
    a := strpos(digits, substr(lo, p + 1, 1)) - 1;
    b := strpos(digits, substr(hi, p + 1, 1)) - 1;
    IF b - a >= 2 THEN  -- room for a digit between them
        RETURN left(lo, p) || substr(digits, (a + b) / 2 + 1, 1);
    END IF;
    -- Neighbouring digits: keep lo's and step past the rest of lo.
    RETURN left(lo, p + 1) || position_after(substr(lo, p + 2));
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

-- The new position of task `moved` of user `owner` when moved right after task `after_task`
-- (NULL: to the top). VOLATILE, so its queries take a fresh snapshot: called by a statement
-- that has already locked the user's row (sql/task_move.sql), it sees every position committed
-- by the writers that held that lock before, not the older snapshot the statement started with,
-- so concurrent moves never compute the same position (and the unique index would refuse it).
-- A task already right after `after_task` keeps its position. `after_task` naming the task
-- itself or no task of the owner's raises no_data_found.
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
