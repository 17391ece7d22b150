-- Delete every completed task of the caller in one statement; `deleted` counts them. When the
-- caller may not act, nothing is deleted and is_active / may_act say why (as in the list query).
WITH gone AS (
    DELETE FROM tasks AS t
    WHERE t.user_id = :user_id AND t.completed
      AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
    RETURNING t.id
)
SELECT u.is_active, {{caller}} AS may_act, (SELECT count(*) FROM gone) AS deleted
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
