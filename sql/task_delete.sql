DELETE FROM tasks AS t
WHERE t.id = $2 AND t.user_id = $1
  AND EXISTS (SELECT 1 FROM users WHERE id = $1 AND is_active)
RETURNING t.id
