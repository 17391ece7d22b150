-- A new personal access token, unless the user holds :max_tokens live ones already (after
-- token_owner_lock.sql, in its transaction); expired tokens are deleted on the way. No row:
-- the limit is reached. A NULL :expires_in_days never expires.
WITH expired AS (
    DELETE FROM personal_tokens AS p WHERE p.user_id = :user_id AND p.expires_at <= now()
)
INSERT INTO personal_tokens AS p (user_id, name, scope, token_hash, expires_at)
SELECT :user_id, :name, :scope, :token_hash,
       now() + make_interval(days => :expires_in_days::integer)
WHERE EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}})
  AND (SELECT count(*) FROM personal_tokens AS held
       WHERE held.user_id = :user_id AND (held.expires_at IS NULL OR held.expires_at > now()))
      < :max_tokens
RETURNING p.id, p.name, p.scope, p.created_at, p.expires_at, p.last_used_at
