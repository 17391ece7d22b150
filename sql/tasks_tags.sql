-- Every tag on the caller's tasks, with how many tasks carry it (a task holds a tag at most
-- once), in code-point order, from the counts every write keeps (task_counts, migrations/0006;
-- list_id 0 is the user's whole pile, the row with tag '' counts all tasks, a tag whose tasks
-- are gone counts 0). One row with a
-- NULL name when there are none or the caller may not act (is_active NULL: no such user;
-- may_act false: the caller rule refused them).
SELECT u.is_active, {{caller}} AS may_act, tag.name, tag.count
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN LATERAL (
    SELECT c.tag AS name, c.tasks AS count
    FROM task_counts AS c
    WHERE c.user_id = :user_id AND c.list_id = 0 AND c.tag <> '' AND c.tasks > 0
    ORDER BY c.tag COLLATE "C"
) AS tag ON {{caller}}
