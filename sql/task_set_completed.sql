-- Set completed to :completed, or flip it when that is NULL; one statement, so concurrent
-- toggles serialise on the row lock and none is lost. Setting the value it already has changes
-- nothing (version and updated_at move only when a value does: trigger tasks_10_version).
-- A pending recurring task that this would complete is left alone and comes back as it stands
-- (with its owner's zone, `to_plan` true): completing it advances its series, which the API
-- plans and task_update.sql writes.
WITH changed AS (
UPDATE tasks AS t SET
    completed = COALESCE(:completed::boolean, NOT t.completed),
    completed_at = CASE
        WHEN COALESCE(:completed::boolean, NOT t.completed) = t.completed THEN t.completed_at
        WHEN COALESCE(:completed::boolean, NOT t.completed) THEN now()
    END
WHERE t.id = :task_id AND t.user_id = :user_id AND {{if_match}}
  AND NOT (t.recurrence IS NOT NULL AND NOT t.completed AND COALESCE(:completed::boolean, true))
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
