-- One task of the caller's, with their time zone (the zone of a task without its own).
SELECT {{task_columns}}
     , (SELECT u.time_zone FROM users AS u WHERE u.id = :user_id) AS owner_time_zone
FROM tasks AS t
WHERE t.id = :task_id AND t.user_id = :user_id
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}})
