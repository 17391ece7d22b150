-- End the caller's session :target, or every session of theirs when :target is NULL. One row:
-- is_active / may_act say whether the caller may act, `ended` counts the sessions ended.
WITH ended AS (
    DELETE FROM sessions AS s
    WHERE s.user_id = :user_id AND (:target::text IS NULL OR s.id = :target::text)
      AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}})
    RETURNING s.id
)
SELECT u.is_active, {{caller}} AS may_act, (SELECT count(*) FROM ended) AS ended
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
