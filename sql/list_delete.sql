-- Delete one of the caller's lists that is not their default one, and its tasks with it (the
-- foreign key tasks_list_fkey cascades; each task leaves its tombstone: trigger
-- tasks_30_tombstone) and its count row. No row when there is no such list, it is the default
-- one, the version does not match If-Match, or the caller may not act.
WITH gone AS (
    DELETE FROM lists AS t
    WHERE t.id = :list_id AND t.user_id = :user_id AND NOT t.is_default AND {{if_match}}
      AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
    RETURNING t.id
), uncounted AS (
    DELETE FROM task_counts AS c USING gone
    WHERE c.user_id = :user_id AND c.list_id = gone.id
)
SELECT id FROM gone
