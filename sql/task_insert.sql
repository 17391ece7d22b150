-- Create a task for an active user; no row comes back when the user is missing or inactive.
INSERT INTO tasks (user_id, title, description, completed, completed_at)
SELECT $1, $2, $3, $4, CASE WHEN $4 THEN now() END
WHERE EXISTS (SELECT 1 FROM users WHERE id = $1 AND is_active)
RETURNING id, user_id, title, description, completed, completed_at, created_at, updated_at
