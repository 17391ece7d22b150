SELECT t.id, t.user_id, t.title, t.description, t.completed, t.completed_at, t.due_date, t.priority, t.tags, t.position, t.version, t.created_at, t.updated_at
    , t.list_id
FROM tasks AS t
WHERE t.id = :task_id AND t.user_id = :user_id
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}})
