-- Record fired reminders (in the transaction that claimed them: events_fire.sql), for the
-- streams and the webhooks. The guard
-- (task, instant) never records one instant of a task twice.
WITH recorded AS (
    INSERT INTO reminder_events (user_id, task_id, fires_at, data)
    SELECT fired.user_id, fired.task_id, fired.fires_at, fired.data::jsonb
    FROM unnest(:user_ids::text[], :task_ids::bigint[], :fires_at::timestamptz[], :data::text[])
        AS fired (user_id, task_id, fires_at, data)
    ORDER BY fired.user_id, fired.task_id
    ON CONFLICT ON CONSTRAINT reminder_events_once DO NOTHING
    RETURNING user_id, data
)
-- Each recorded reminder is also a webhook event (migration 0013: one delivery per active webhook
-- of its user subscribed to `reminder`), enqueued in this same transaction.
SELECT count(webhook_enqueue(r.user_id, 'reminder', r.data)) AS recorded FROM recorded AS r
