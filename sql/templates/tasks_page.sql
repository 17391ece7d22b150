-- One page of a user's tasks in one sort order, after the cursor, with the count of all matches.
-- Rendered by todo_api/db/tasks.py once per sort and order (and once without a cursor, for the
-- first page) from its table of sort keys: [[keyset]] is "rows after the cursor" as a row
-- comparison of the sort key (then id) with the same key over :after_key and :after_id, and
-- [[order_by]] that key and id with their direction. Every value is a parameter.
-- When the caller may not act, one row comes back with NULL task columns: is_active NULL means no
-- such user, may_act false that the caller rule refused them.
WITH matching AS NOT MATERIALIZED (
    SELECT t.id, t.user_id, t.title, t.description, t.completed, t.completed_at, t.due_date, t.priority, t.tags, t.position, t.version, t.created_at, t.updated_at
    FROM tasks AS t
    WHERE t.user_id = :user_id
      AND (:completed::boolean IS NULL OR t.completed = :completed::boolean)
      AND (:pattern::text IS NULL OR t.title ILIKE :pattern::text OR t.description ILIKE :pattern::text)
      AND (:tags::text[] IS NULL OR t.tags @> :tags::text[])
      AND (:priorities::text[] IS NULL OR t.priority = ANY (:priorities::text[]::task_priority[]))
      AND (:due_after::text IS NULL OR t.due_date >= :due_after::text::date)
      AND (:due_before::text IS NULL OR t.due_date <= :due_before::text::date)
      AND (:overdue::boolean IS NULL
           OR COALESCE(NOT t.completed AND t.due_date < :today::text::date, false) = :overdue::boolean)
)
SELECT u.is_active, {{caller}} AS may_act, (SELECT count(*) FROM matching) AS total, page.*
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN LATERAL (
    SELECT * FROM matching AS t
    WHERE [[keyset]]
    ORDER BY [[order_by]]
    LIMIT :limit
) AS page ON {{caller}}
