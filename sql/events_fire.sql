-- Claim the due reminders (at most :batch, the earliest) of the owners locked by
-- events_fire_lock.sql; the rest wait for the next batch. Each claimed task's
-- next_reminder_at moves on to the earliest `fires_at` of its reminders strictly later than
-- the one firing now (NULL when none is left). The tasks as they are now come back, with the
-- instant that fired, except completed ones (they never fire). Its caller (one transaction)
-- records the events before committing: a firing is claimed and recorded together, or not at all.
WITH due AS (
    SELECT t.id, t.next_reminder_at AS fired_at FROM tasks AS t
    WHERE t.user_id = ANY (:user_ids::text[]) AND t.next_reminder_at <= now()
    ORDER BY t.next_reminder_at
    LIMIT :batch
    FOR UPDATE
),
advanced AS (
    UPDATE tasks AS t
    SET next_reminder_at = (
        SELECT min((r.value ->> 'fires_at')::timestamptz)
        FROM jsonb_array_elements(t.reminders) AS r
        WHERE (r.value ->> 'fires_at')::timestamptz > due.fired_at
    )
    FROM due
    WHERE t.id = due.id
    RETURNING t.*, due.fired_at
)
SELECT * FROM advanced WHERE NOT advanced.completed
