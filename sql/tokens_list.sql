-- The caller's live personal access tokens, newest first (never the token, of which only a hash
-- is kept). One row with NULL token columns when there are none or the caller may not act
-- (is_active / may_act say why).
SELECT u.is_active, {{caller}} AS may_act,
       p.id, p.name, p.scope, p.created_at, p.expires_at, p.last_used_at
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN personal_tokens AS p
  ON p.user_id = u.id AND (p.expires_at IS NULL OR p.expires_at > now()) AND {{caller}}
ORDER BY p.created_at DESC, p.id DESC
