-- Create a task for the caller (on top of their manual order: trigger tasks_05_position); no
-- row comes back when the caller may not act. Dates travel as text: asyncpg would send
-- 9999-12-31 and 0001-01-01 as infinity and -infinity.
INSERT INTO tasks AS t (user_id, title, description, completed, completed_at, due_date, priority, tags)
SELECT :user_id, :title, :description, :completed, CASE WHEN :completed THEN now() END,
       :due_date::text::date, :priority::text::task_priority, :tags::text[]
WHERE EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
RETURNING t.id, t.user_id, t.title, t.description, t.completed, t.completed_at, t.due_date, t.priority, t.tags, t.position, t.version, t.created_at, t.updated_at
