DELETE FROM tasks AS t
WHERE t.id = :task_id AND t.user_id = :user_id AND {{if_match}}
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
RETURNING t.id
