-- Create a task for the caller, in list :list_id (NULL: their default list), on top of that
-- list's manual order (trigger tasks_05_position); no row comes back when the caller may not
-- act; a list that is not one of the caller's raises foreign_key_violation (tasks_list_fkey).
-- Dates travel as text: asyncpg would send 9999-12-31 and 0001-01-01 as infinity and -infinity.
INSERT INTO tasks AS t (user_id, title, description, completed, completed_at, due_date, priority, tags
    , list_id
)
SELECT :user_id, :title, :description, :completed, CASE WHEN :completed THEN now() END,
       :due_date::text::date, :priority::text::task_priority, :tags::text[]
    , :list_id::bigint
WHERE EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
RETURNING t.id, t.user_id, t.title, t.description, t.completed, t.completed_at, t.due_date, t.priority, t.tags, t.position, t.version, t.created_at, t.updated_at
    , t.list_id
