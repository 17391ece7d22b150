-- Create a list for the caller, at the bottom of their lists. The user's row is locked first
-- (as by every write of a user's lists and tasks), so trigger lists_05_position sees every
-- list committed before: it picks the bottom position and refuses a list past the limit
-- (program_limit_exceeded). A name taken case-insensitively raises unique_violation
-- (lists_user_name_key). No row when the caller may not act.
INSERT INTO lists AS l (user_id, name)
SELECT :user_id, :name
WHERE EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
RETURNING l.id, l.name, l.is_default, l.position, l.version, 0::bigint AS task_count,
          0::bigint AS pending_count, l.created_at, l.updated_at
