-- The caller's reminders that will fire in [:from_at, :to_at), soonest first: each current
-- reminder of a pending task whose fires_at lies in the window and is still to fire (not before
-- the task's next_reminder_at). Served by tasks_user_next_reminder_idx (migration 0008): only
-- tasks with a reminder to fire by :to_at are read. One row with NULL task columns when there
-- are none or the caller may not act (is_active NULL: no such user; may_act false: refused).
SELECT u.is_active, {{caller}} AS may_act, due.task_id, due.title, due.fires_at, due.due_at
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN LATERAL (
    SELECT t.id AS task_id, t.title, f.fires_at, t.due_at
    FROM tasks AS t
    CROSS JOIN LATERAL (
        SELECT (r ->> 'fires_at')::timestamptz AS fires_at FROM jsonb_array_elements(t.reminders) AS r
    ) AS f
    WHERE t.user_id = :user_id AND t.next_reminder_at IS NOT NULL
      AND t.next_reminder_at < :to_at::timestamptz
      AND f.fires_at >= t.next_reminder_at
      AND f.fires_at >= :from_at::timestamptz AND f.fires_at < :to_at::timestamptz
    ORDER BY f.fires_at, t.id
) AS due ON {{caller}}
