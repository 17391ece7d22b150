-- The caller's webhooks, oldest first. The first row always says whether the caller may act
-- (NULL webhook columns when they have none).
SELECT u.is_active, {{caller}} AS may_act, w.*
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN LATERAL (
    SELECT x.id, x.url, x.events, x.description, x.active, x.created_at, x.updated_at
    FROM webhooks AS x
    WHERE x.user_id = :user_id
    ORDER BY x.id
) AS w ON {{caller}}
