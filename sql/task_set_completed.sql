-- Set completed to :completed, or flip it when that is NULL; one statement, so concurrent
-- toggles serialise on the row lock and none is lost. Setting the value it already has changes
-- nothing (version and updated_at move only when a value does: trigger tasks_10_version).
-- Completing a pending recurring task advances its series instead (`advance`): to the first
-- occurrence planned ahead (ahead_*, migrations/0014; todo_api/models/time.py, `Ahead`, says
-- what `plan` makes of an advance: this is the same), or it completes the task when the series
-- ends there. When nothing is planned ahead (or the due_at planned ahead are of another zone
-- than the task's now), the task is left alone and comes back as it stands (with its owner's
-- zone, `to_plan` true): the API plans the advance and task_update.sql writes it.
WITH changed AS (
UPDATE tasks AS t SET
    (completed, completed_at, due_date, due_at, occurrence, last_completed_at, reminders,
     ahead_dates, ahead_due_at) = (
        SELECT CASE WHEN s.advance THEN false ELSE s.target END,
               CASE WHEN s.advance OR s.target = t.completed THEN t.completed_at
                    WHEN s.target THEN now() END,
               CASE WHEN s.advance THEN t.ahead_dates[1] ELSE t.due_date END,
               CASE WHEN s.advance THEN t.ahead_due_at[1] ELSE t.due_at END,
               CASE WHEN s.advance THEN t.occurrence + 1 ELSE t.occurrence END,
               CASE WHEN s.advance THEN now() ELSE t.last_completed_at END,
               -- Each "before" reminder fires its minutes before the new due_at (an instant
               -- in UTC, shown as models/time.py's `stamp` shows it); an "at" one stays.
               CASE WHEN s.advance AND t.reminders <> '[]'::jsonb THEN (
                   SELECT jsonb_agg(CASE WHEN r.entry -> 'before' IS NULL THEN r.entry
                       ELSE jsonb_build_object('before', r.entry -> 'before', 'fires_at',
                           to_char((t.ahead_due_at[1]
                                    - make_interval(mins => (r.entry ->> 'before')::integer))
                                   AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
                       END ORDER BY r.n)
                   FROM jsonb_array_elements(t.reminders) WITH ORDINALITY AS r (entry, n)
               ) ELSE t.reminders END,
               CASE WHEN s.advance THEN t.ahead_dates[2:] ELSE t.ahead_dates END,
               CASE WHEN s.advance THEN t.ahead_due_at[2:] ELSE t.ahead_due_at END
        FROM (SELECT COALESCE(:completed::boolean, NOT t.completed) AS target,
                     t.recurrence IS NOT NULL AND NOT t.completed
                     AND COALESCE(:completed::boolean, true)
                     AND cardinality(t.ahead_dates) > 0 AS advance) AS s
    )
WHERE t.id = :task_id AND t.user_id = :user_id AND {{if_match}}
  AND (NOT (t.recurrence IS NOT NULL AND NOT t.completed AND COALESCE(:completed::boolean, true))
       OR (t.recurrence_basis = 'due' AND (cardinality(t.ahead_dates) > 0 OR t.ahead_ends)
           AND (t.due_time IS NULL
                OR t.ahead_zone = COALESCE(t.time_zone,
                                           (SELECT u.time_zone FROM users AS u
                                            WHERE u.id = :user_id)))))
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
RETURNING {{task_columns}}
       , NULL::text AS owner_time_zone
       , false AS to_plan
)
SELECT * FROM changed
UNION ALL
SELECT {{task_columns}}
       , (SELECT u.time_zone FROM users AS u WHERE u.id = :user_id)
       , true
FROM tasks AS t
WHERE NOT EXISTS (SELECT 1 FROM changed) AND t.id = :task_id AND t.user_id = :user_id
  AND {{if_match}}
  AND t.recurrence IS NOT NULL AND NOT t.completed AND COALESCE(:completed::boolean, true)
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}})
