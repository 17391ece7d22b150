-- depends: 0006_task_counts
DROP INDEX tasks_next_reminder_idx;
ALTER TABLE tasks DROP COLUMN next_reminder_at, DROP COLUMN reminders;
