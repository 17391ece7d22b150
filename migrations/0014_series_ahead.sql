-- depends: 0013_webhooks
-- Time (issue 19, performance): the next occurrences of a recurring task's series, planned
-- ahead by the API (todo_api/models/time.py, `series_ahead`) whenever it writes the schedule,
-- so that completing the task advances it in the completion's own statement
-- (sql/task_set_completed.sql) instead of reading, planning and writing again. NULL: nothing
-- planned ahead (a task written before this migration, a series on basis "completion", a task
-- that does not recur): its completion is planned in the API as before, which fills these.
-- Not indexed (an advance stays a HOT update as far as these columns go) and not among the
-- columns that move version (they are a cache of what the schedule already says).
ALTER TABLE tasks
    -- The due dates of the occurrences after the current one, earliest first.
    ADD COLUMN ahead_dates date[],
    -- Their due_at (NULL: the task has no due time).
    ADD COLUMN ahead_due_at timestamptz[],
    -- The zone those due_at were planned in (NULL without a due time): an advance uses them
    -- only while it is still the task's zone (its own, else its owner's).
    ADD COLUMN ahead_zone text,
    -- Whether COUNT or UNTIL ends the series after the last of ahead_dates.
    ADD COLUMN ahead_ends boolean;
