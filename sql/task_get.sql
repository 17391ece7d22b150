-- One task of the caller's, with their time zone (the zone of a task without its own).
SELECT t.id, t.user_id, t.title, t.description, t.completed, t.completed_at, t.due_date, t.priority, t.tags, t.position, t.version, t.created_at, t.updated_at
     , t.list_id
     , t.due_time
     , t.time_zone
     , t.due_at
     , t.recurrence
     , t.recurrence_basis
     , t.occurrence
     , t.last_completed_at
     , t.reminders
     , (SELECT u.time_zone FROM users AS u WHERE u.id = :user_id) AS owner_time_zone
FROM tasks AS t
WHERE t.id = :task_id AND t.user_id = :user_id
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}})
