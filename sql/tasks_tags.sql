-- Every tag on the caller's tasks, with how many tasks carry it (a task holds a tag at most
-- once), in code-point order. One row with a NULL name when there are none or the caller may
-- not act (is_active NULL: no such user; may_act false: the caller rule refused them).
SELECT u.is_active, {{caller}} AS may_act, tag.name, tag.count
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN LATERAL (
    SELECT name, count(*) AS count
    FROM tasks AS t CROSS JOIN LATERAL unnest(t.tags) AS name
    WHERE t.user_id = :user_id
    GROUP BY name
    ORDER BY name COLLATE "C"
) AS tag ON {{caller}}
