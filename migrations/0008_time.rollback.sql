-- depends: 0007_lists
DROP TRIGGER tasks_15_next_reminder ON tasks;
DROP TRIGGER tasks_15_next_reminder_insert ON tasks;
DROP FUNCTION tasks_next_reminder();
DROP TRIGGER tasks_11_version_time ON tasks;
DROP FUNCTION tasks_bump_version_time();
CREATE INDEX tasks_user_due_asc_idx ON tasks (user_id, COALESCE(due_date, 'infinity'::date), id);
CREATE INDEX tasks_user_due_desc_idx ON tasks (user_id, COALESCE(due_date, '-infinity'::date), id);
DROP INDEX tasks_user_due_at_desc_idx;
DROP INDEX tasks_user_due_at_asc_idx;
DROP INDEX tasks_user_next_reminder_idx;
DROP INDEX tasks_next_reminder_idx;
ALTER TABLE tasks
    DROP CONSTRAINT tasks_due_at_check,
    DROP COLUMN next_reminder_at,
    DROP COLUMN reminders,
    DROP COLUMN last_completed_at,
    DROP COLUMN occurrence,
    DROP COLUMN recurrence_basis,
    DROP COLUMN recurrence,
    DROP COLUMN due_at,
    DROP COLUMN time_zone,
    DROP COLUMN due_time;
ALTER TABLE users DROP COLUMN time_zone;
