-- The latest deliveries of one of the caller's webhooks, newest first. The first row always
-- says whether the caller may act and whether the webhook is theirs (webhook_found NULL: no
-- such webhook), with NULL delivery columns when there is none.
SELECT u.is_active, {{caller}} AS may_act, w.id AS webhook_found, d.*
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN webhooks AS w ON w.id = :webhook_id AND w.user_id = :user_id AND {{caller}}
LEFT JOIN LATERAL (
    SELECT x.id, x.type, x.status, x.attempts, x.last_status_code, x.last_error,
           CASE WHEN x.status = 'pending' THEN x.next_attempt_at END AS next_attempt_at,
           x.created_at, x.delivered_at
    FROM webhook_deliveries AS x
    WHERE x.webhook_id = w.id
    ORDER BY x.created_at DESC, x.id DESC
    LIMIT :limit
) AS d ON true
