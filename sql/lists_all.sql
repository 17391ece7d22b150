-- The caller's lists in their manual order, each with its counts (from the kept counts:
-- list_counts, migrations/0007). One row with NULL list columns when the caller may not act
-- (is_active NULL: no such user; may_act false: the caller rule refused them).
SELECT u.is_active, {{caller}} AS may_act, shown.*
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN LATERAL (
    SELECT l.id, l.name, l.is_default, l.position, l.version, n.task_count, n.pending_count,
           l.created_at, l.updated_at
    FROM lists AS l CROSS JOIN LATERAL list_counts(l.user_id, l.id) AS n
    WHERE l.user_id = :user_id
    ORDER BY l.position
) AS shown ON {{caller}}
