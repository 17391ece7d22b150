-- The caller's tasks with a due time and no zone of their own: their due_at (and reminders)
-- follow the caller's zone. Run after the caller's row is locked by the zone's change.
SELECT t.id, t.due_date, t.due_time, t.reminders
FROM tasks AS t
WHERE t.user_id = :user_id AND t.time_zone IS NULL AND t.due_time IS NOT NULL
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
