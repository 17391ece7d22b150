-- Set completed to :completed, or flip it when that is NULL; one statement, so concurrent
-- toggles serialise on the row lock and none is lost. Setting the value it already has changes
-- nothing (version and updated_at move only when a value does: trigger tasks_10_version).
UPDATE tasks AS t SET
    completed = COALESCE(:completed::boolean, NOT t.completed),
    completed_at = CASE
        WHEN COALESCE(:completed::boolean, NOT t.completed) = t.completed THEN t.completed_at
        WHEN COALESCE(:completed::boolean, NOT t.completed) THEN now()
    END
WHERE t.id = :task_id AND t.user_id = :user_id AND {{if_match}}
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
RETURNING t.id, t.user_id, t.title, t.description, t.completed, t.completed_at, t.due_date, t.priority, t.tags, t.position, t.version, t.created_at, t.updated_at
    , t.list_id
