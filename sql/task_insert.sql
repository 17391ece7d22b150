-- Create a task for the caller (on top of their manual order: trigger tasks_05_position); no
-- row comes back when the caller may not act.
INSERT INTO tasks (user_id, title, description, completed, completed_at)
SELECT :user_id, :title, :description, :completed, CASE WHEN :completed THEN now() END
WHERE EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
RETURNING id, user_id, title, description, completed, completed_at, created_at, updated_at
