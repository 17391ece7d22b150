-- depends: 0006_task_counts
-- SCRATCH, NOT TO BE MERGED: the reminder columns the `time` branch adds (INTERFACES.md,
-- "Reminders"), so the firing of branch `events` can be built and tested before `time` lands.
-- Deleted from this branch when main has `time`'s migration 0008.
ALTER TABLE tasks
    ADD COLUMN reminders jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN next_reminder_at timestamptz;
CREATE INDEX tasks_next_reminder_idx ON tasks (next_reminder_at) WHERE next_reminder_at IS NOT NULL;
