-- A personal access token presented: its id, user and scope, unless it is unknown, deleted or
-- expired; records its use (auth/personal.py makes this lookup at most once a minute per token
-- and process, so last_used_at lags by a minute at most). Whether its user may act is the
-- caller rule's to say, in each statement that acts for them.
UPDATE personal_tokens AS p SET last_used_at = now()
WHERE p.token_hash = :token_hash AND (p.expires_at IS NULL OR p.expires_at > now())
RETURNING p.id, p.user_id, p.scope
