-- One of the caller's lists with its counts; no row when there is no such list of theirs or
-- the caller may not act.
SELECT l.id, l.name, l.is_default, l.position, l.version, n.task_count, n.pending_count,
       l.created_at, l.updated_at
FROM lists AS l CROSS JOIN LATERAL list_counts(l.user_id, l.id) AS n
WHERE l.id = :list_id AND l.user_id = :user_id
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}})
