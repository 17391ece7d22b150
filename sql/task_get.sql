SELECT t.id, t.user_id, t.title, t.description, t.completed, t.completed_at, t.created_at, t.updated_at
FROM tasks AS t
WHERE t.id = $2 AND t.user_id = $1
  AND EXISTS (SELECT 1 FROM users WHERE id = $1 AND is_active)
