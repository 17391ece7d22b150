-- One page of a user's tasks in one sort order, after the cursor, with the count of all matches.
-- Rendered by todo_api/db/tasks.py once per sort and order (and once without a cursor, for the
-- first page; and once each with and without a search) from its table of sort keys: [[keyset]]
-- is "rows after the cursor" as a row comparison of the sort key (then id) with the same key
-- over :after_key and :after_id, [[order_by]] that key and id with their direction,
-- [[search]] the `q` condition in the spelling a trigram index serves, or in the one it does
-- not (see todo_api/db/tasks.py), [[in_list]] the `list` condition (`t.list_id = :list_id`, a
-- plain condition that indexes starting (user_id, list_id) serve; or true when no list is
-- named), and [[materialized]] whether the matches are found once for both the count and the
-- page (a search: the count reads every match anyway) or separately (otherwise: the page then
-- walks an index only as far as it needs). Every value is a parameter.
-- The total: with no filter but status and at most one tag, or but status and the list
-- (:from_counts), it is read from task_counts (migrations/0006, 0007: list_id 0 is the whole
-- pile), which agrees exactly with the tasks this snapshot sees;
-- with `overdue=true` alone (:overdue_count), the same condition spelt so that a generic plan
-- counts from the partial index of pending due tasks alone (migrations/0011), never the table
-- (a due_at can have passed while its date is up to two days after today in another zone, so
-- the index range reaches two days further and the exact condition is checked on its columns);
-- otherwise the matching rows are counted, up to :count_limit of them (NULL: all; db/tasks.py,
-- COUNT_LIMIT, says which filters may stop early). The subquery CASE does not take is never run.
-- When the caller may not act, one row comes back with NULL task columns: is_active NULL means no
-- such user, may_act false that the caller rule refused them. list_known is false when :list_id
-- is not one of the caller's lists.
WITH matching AS [[materialized]] (
    SELECT {{task_columns}}
    FROM tasks AS t
    WHERE t.user_id = :user_id
      AND [[in_list]]
      AND (:completed::boolean IS NULL OR t.completed = :completed::boolean)
      AND [[search]]
      AND (:tags::text[] IS NULL OR t.tags @> :tags::text[])
      AND (:priorities::text[] IS NULL OR t.priority = ANY (:priorities::text[]::task_priority[]))
      AND (:due_after::text IS NULL OR t.due_date >= :due_after::text::date)
      AND (:due_before::text IS NULL OR t.due_date <= :due_before::text::date)
      AND (:overdue::boolean IS NULL
           OR {{overdue}} = :overdue::boolean)
)
SELECT u.is_active, {{caller}} AS may_act,
       (:list_id::bigint IS NULL
        OR EXISTS (SELECT 1 FROM lists AS l WHERE l.id = :list_id::bigint AND l.user_id = :user_id))
       AS list_known,
       CASE WHEN :from_counts::boolean THEN (
           SELECT COALESCE(CASE :completed::boolean WHEN true THEN c.completed
                                                    WHEN false THEN c.tasks - c.completed
                                                    ELSE c.tasks END, 0)
           FROM (SELECT) AS one
           LEFT JOIN task_counts AS c
             ON c.user_id = :user_id AND c.list_id = COALESCE(:list_id::bigint, 0)
            AND c.tag = COALESCE((:tags::text[])[1], '')
       ) WHEN :overdue_count::boolean THEN (
           SELECT count(*) FROM (
               SELECT FROM tasks AS o
               WHERE o.user_id = :user_id AND NOT o.completed
                 AND o.due_date <= :today::text::date + 2
                 AND CASE WHEN o.due_at IS NULL THEN o.due_date < :today::text::date
                          ELSE o.due_at < :now::timestamptz END
               LIMIT :count_limit::bigint
           ) AS counted
       ) ELSE (
           SELECT count(*) FROM (SELECT FROM matching LIMIT :count_limit::bigint) AS counted
       ) END AS total,
       page.*
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN LATERAL (
    SELECT * FROM matching AS t
    WHERE [[keyset]]
    ORDER BY [[order_by]]
    LIMIT :limit
) AS page ON {{caller}}
