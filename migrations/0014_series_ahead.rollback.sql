-- depends: 0013_webhooks
ALTER TABLE tasks
    DROP COLUMN ahead_dates,
    DROP COLUMN ahead_due_at,
    DROP COLUMN ahead_zone,
    DROP COLUMN ahead_ends;
