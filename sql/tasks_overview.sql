-- The caller's tasks at a glance (the agents' get_overview): pending and completed from
-- task_counts (exact, migrations/0006; list_id 0 counts all the user's tasks); overdue (the
-- listing's rule, sql/_overdue.sql), due today and due in the 7 days after today, counted over
-- the pending tasks with a due date; and the 5 tags most tasks carry, one a row (a NULL name
-- when none). When the caller may not act, one row with NULL counts: is_active NULL means no
-- such user, may_act false that the caller rule refused them.
SELECT u.is_active, {{caller}} AS may_act,
       COALESCE(c.tasks - c.completed, 0) AS pending, COALESCE(c.completed, 0) AS completed,
       d.overdue, d.due_today, d.due_next_7_days, tag.name, tag.count
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN task_counts AS c
  ON c.user_id = :user_id AND c.list_id = 0 AND c.tag = '' AND {{caller}}
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE {{overdue}}) AS overdue,
           count(*) FILTER (WHERE t.due_date = :today::text::date) AS due_today,
           count(*) FILTER (WHERE t.due_date > :today::text::date
                              AND t.due_date <= :today::text::date + 7) AS due_next_7_days
    FROM tasks AS t
    WHERE t.user_id = :user_id AND NOT t.completed AND t.due_date IS NOT NULL
) AS d ON {{caller}}
LEFT JOIN LATERAL (
    SELECT k.tag AS name, k.tasks AS count
    FROM task_counts AS k
    WHERE k.user_id = :user_id AND k.list_id = 0 AND k.tag <> '' AND k.tasks > 0
    ORDER BY k.tasks DESC, k.tag COLLATE "C"
    LIMIT 5
) AS tag ON {{caller}}
