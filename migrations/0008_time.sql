-- depends: 0007_lists
-- Time (issue 19): a user's time zone; a task's due time, zone and the instant they make; an
-- RRULE recurrence with where its series stands; up to five reminders with the next instant to
-- fire. The API computes due_at, each reminder's fires_at and the series' dates (zoneinfo and
-- dateutil, todo_api/models/time.py); the schema checks only what a plain expression can, so no
-- CHECK here calls a function or a subquery (a CHECK with subqueries is planned again on every
-- write). Every rule is stated once in the model and checked against these constraints by
-- tests/test_schema_rules.py.

ALTER TABLE users
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
        CONSTRAINT users_time_zone_check CHECK (char_length(time_zone) BETWEEN 1 AND 64);

ALTER TABLE tasks
    ADD COLUMN due_time time(0)
        CONSTRAINT tasks_due_time_check CHECK (due_time IS NULL OR due_date IS NOT NULL),
    ADD COLUMN time_zone text
        CONSTRAINT tasks_time_zone_check CHECK (char_length(time_zone) BETWEEN 1 AND 64),
    ADD COLUMN due_at timestamptz,
    ADD COLUMN recurrence text
        CONSTRAINT tasks_recurrence_check CHECK (recurrence IS NULL OR due_date IS NOT NULL),
    ADD COLUMN recurrence_basis text NOT NULL DEFAULT 'due'
        CONSTRAINT tasks_recurrence_basis_check CHECK (recurrence_basis IN ('due', 'completion')),
    ADD COLUMN occurrence integer NOT NULL DEFAULT 1
        CONSTRAINT tasks_occurrence_check CHECK (occurrence >= 1),
    ADD COLUMN last_completed_at timestamptz,
    -- Each entry as the API shows it: {"before": minutes} or {"at": instant}, with "fires_at".
    ADD COLUMN reminders jsonb NOT NULL DEFAULT '[]'
        CONSTRAINT tasks_reminders_check
        CHECK (jsonb_typeof(reminders) = 'array' AND jsonb_array_length(reminders) <= 5),
    -- The earliest fires_at of the current reminders still to fire (NULL: none, or completed).
    -- Kept by trigger tasks_15_next_reminder; the reminder firing (issue 25) moves it on.
    ADD COLUMN next_reminder_at timestamptz;
ALTER TABLE tasks ADD CONSTRAINT tasks_due_at_check CHECK ((due_at IS NULL) = (due_time IS NULL));

-- Due reminders of all users, found by one indexed query (the firing's claim).
CREATE INDEX tasks_next_reminder_idx ON tasks (next_reminder_at) WHERE next_reminder_at IS NOT NULL;
-- One user's reminders in a window (GET /reminders).
CREATE INDEX tasks_user_next_reminder_idx ON tasks (user_id, next_reminder_at)
    WHERE next_reminder_at IS NOT NULL;

-- sort=due: by date, then within a date by due_at, tasks without a time after those with one
-- (and tasks without a date last), in either direction.
CREATE INDEX tasks_user_due_at_asc_idx
    ON tasks (user_id, COALESCE(due_date, 'infinity'::date), COALESCE(due_at, 'infinity'::timestamptz), id);
CREATE INDEX tasks_user_due_at_desc_idx
    ON tasks (user_id, COALESCE(due_date, '-infinity'::date), COALESCE(due_at, '-infinity'::timestamptz), id);
DROP INDEX tasks_user_due_asc_idx;
DROP INDEX tasks_user_due_desc_idx;

-- version and updated_at move when a value of this round's fields changes too, as they do for
-- the others (tasks_10_version). A trigger of its own, called only when one of them changed
-- (next_reminder_at is not among them: the firing moving it on changes no version).
CREATE FUNCTION tasks_bump_version_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
CREATE TRIGGER tasks_11_version_time BEFORE UPDATE ON tasks
    FOR EACH ROW WHEN ((NEW.due_time, NEW.time_zone, NEW.due_at, NEW.recurrence,
                        NEW.recurrence_basis, NEW.occurrence, NEW.last_completed_at, NEW.reminders)
                       IS DISTINCT FROM
                       (OLD.due_time, OLD.time_zone, OLD.due_at, OLD.recurrence,
                        OLD.recurrence_basis, OLD.occurrence, OLD.last_completed_at, OLD.reminders))
    EXECUTE FUNCTION tasks_bump_version_time();

-- next_reminder_at, stated once: the earliest fires_at of the task's reminders strictly later
-- than the write's now(); NULL when there is none or the task is completed. Recomputed only
-- when the reminders (whose fires_at follow the due date, time and zone, and each occurrence)
-- or completion change, so the firing's own update of next_reminder_at is left alone.
CREATE FUNCTION tasks_next_reminder() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.next_reminder_at := CASE WHEN NOT NEW.completed THEN (
        SELECT min((r ->> 'fires_at')::timestamptz)
        FROM jsonb_array_elements(NEW.reminders) AS r
        WHERE (r ->> 'fires_at')::timestamptz > now()
    ) END;
    RETURN NEW;
END;
$$;
CREATE TRIGGER tasks_15_next_reminder_insert BEFORE INSERT ON tasks
    FOR EACH ROW WHEN (NEW.reminders <> '[]'::jsonb)
    EXECUTE FUNCTION tasks_next_reminder();
CREATE TRIGGER tasks_15_next_reminder BEFORE UPDATE ON tasks
    FOR EACH ROW WHEN (NEW.reminders IS DISTINCT FROM OLD.reminders
                       OR NEW.completed IS DISTINCT FROM OLD.completed
                       OR NEW.occurrence IS DISTINCT FROM OLD.occurrence)
    EXECUTE FUNCTION tasks_next_reminder();
