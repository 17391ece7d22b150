-- The caller's live sessions, newest first, `current` marking the token's own. One row with NULL
-- session columns when there are none or the caller may not act (is_active / may_act say why).
SELECT u.is_active, {{caller}} AS may_act, s.id, s.created_at, s.last_used_at, s.user_agent,
       s.id = :session_id::text AS current
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN sessions AS s ON s.user_id = u.id AND s.ends_at > now() AND {{caller}}
ORDER BY s.created_at DESC, s.id DESC
