-- depends: 0003_task_planning
-- The change feed (GET /api/{user_id}/tasks/changes): every task carries the number of its
-- latest change, and a deleted task leaves a tombstone numbered the same way.
--
-- Why a reader never misses a change, although sequence values are taken before commit and
-- transactions commit in another order than they numbered: every statement that writes a
-- user's tasks first locks that user's row (FOR NO KEY UPDATE, sql/_caller.sql) and holds it
-- until commit, and takes its number only after that. So a user's changes commit in the order
-- of their numbers: when a reader sees number N of a user committed, every smaller number of
-- that user is committed (or was rolled back) too. The feed is per user; other users' numbers
-- interleave, which only leaves gaps.
CREATE SEQUENCE task_change_seq;

ALTER TABLE tasks ADD COLUMN change_seq bigint NOT NULL DEFAULT nextval('task_change_seq');
CREATE INDEX tasks_user_change_idx ON tasks (user_id, change_seq, id);

CREATE TABLE task_tombstones (
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    task_id    bigint      NOT NULL,
    change_seq bigint      NOT NULL DEFAULT nextval('task_change_seq'),
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, change_seq, task_id)
);
CREATE INDEX task_tombstones_age_idx ON task_tombstones (user_id, deleted_at);

-- A change of value (the version moved: tasks_10_version ran first) gets a new number. The
-- lock is taken again as a guard for a statement that forgot it; for those that did not, it
-- is already held and costs nothing.
CREATE FUNCTION tasks_number_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version <> OLD.version THEN
        PERFORM 1 FROM users WHERE id = NEW.user_id FOR NO KEY UPDATE;
        NEW.change_seq := nextval('task_change_seq');
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER tasks_20_feed BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_number_change();

-- Every delete leaves a tombstone (a single delete, clear-completed, anything), except when the
-- user row itself is gone: deleting an account takes its history along.
CREATE FUNCTION tasks_leave_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM users WHERE id = OLD.user_id FOR NO KEY UPDATE;
    IF FOUND THEN
        INSERT INTO task_tombstones (user_id, task_id) VALUES (OLD.user_id, OLD.id);
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER tasks_30_tombstone AFTER DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_leave_tombstone();

-- Idempotency-Key: the first successful response to a user's key, replayed for 24 hours to a
-- retry of the same request (todo_api/idempotency.py). Written in the same transaction as the
-- write it answers, so a write and the record of its response never disagree.
CREATE TABLE idempotency_keys (
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key        text        NOT NULL,
    request    bytea       NOT NULL,  -- digest of method, path and body (as a JSON value)
    status     integer     NOT NULL,
    headers    jsonb       NOT NULL,
    body       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
