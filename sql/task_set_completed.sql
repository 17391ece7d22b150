-- Set completed to $3, or flip it when $3 is NULL; one statement, so concurrent toggles serialise
-- on the row lock and none is lost. Setting the value it already has changes nothing.
UPDATE tasks AS t SET
    completed = COALESCE($3::boolean, NOT t.completed),
    completed_at = CASE
        WHEN COALESCE($3::boolean, NOT t.completed) = t.completed THEN t.completed_at
        WHEN COALESCE($3::boolean, NOT t.completed) THEN now()
    END,
    updated_at = CASE
        WHEN COALESCE($3::boolean, NOT t.completed) = t.completed THEN t.updated_at
        ELSE now()
    END
WHERE t.id = $2 AND t.user_id = $1
  AND EXISTS (SELECT 1 FROM users WHERE id = $1 AND is_active)
RETURNING t.id, t.user_id, t.title, t.description, t.completed, t.completed_at, t.created_at, t.updated_at
