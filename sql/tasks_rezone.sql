-- Set the due_at and reminders of the caller's tasks :ids (planned in the caller's new zone),
-- in the transaction that changed the zone and read them (tasks_zoneless.sql).
UPDATE tasks AS t SET due_at = x.due_at, reminders = x.reminders
FROM unnest(:ids::bigint[], :due_ats::timestamptz[], :reminders::jsonb[]) AS x (id, due_at, reminders)
WHERE t.id = x.id AND t.user_id = :user_id
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
