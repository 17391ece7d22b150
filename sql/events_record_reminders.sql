-- Record fired reminders (in the transaction that claimed them: events_fire.sql). The guard
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
-- >>> WEBHOOKS (branch `webhooks`, INTERFACES.md): every recorded reminder is also a webhook
-- event, enqueued in this same transaction. When webhook_enqueue exists, replace the SELECT
-- below with:
--   SELECT count(webhook_enqueue(r.user_id, 'reminder', r.data)) AS recorded FROM recorded AS r
-- <<< WEBHOOKS
SELECT count(*) AS recorded FROM recorded
