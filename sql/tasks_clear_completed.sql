-- Delete every completed task of the caller in one statement; `deleted` counts them. When the
-- caller may not act, nothing is deleted and is_active / may_act say why (as in the list query).
-- With no completed task there is nothing to number or count: the user's row is then not locked
-- (the first EXISTS is false, so the second, which locks, is never run), and the statement
-- writes nothing at all: no lock, no WAL, no flush at commit, no wait behind the user's writes.
WITH gone AS (
    DELETE FROM tasks AS t
    WHERE t.user_id = :user_id AND t.completed
      AND EXISTS (SELECT 1 FROM tasks AS c WHERE c.user_id = :user_id AND c.completed)
      AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
    RETURNING t.id
)
SELECT u.is_active, {{caller}} AS may_act, (SELECT count(*) FROM gone) AS deleted
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
