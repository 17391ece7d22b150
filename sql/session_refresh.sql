-- Trade the refresh token :token_hash for a new one (:new_hash) of the same session, once. One
-- row; `outcome` says what happened:
--   rotated   the token is spent, the new one issued (session and user columns set);
--   inactive  the account is inactive; nothing changed;
--   reused    the token was spent before, so it was copied: its session ends now;
--   unknown   no such token, or it or its session has expired.
-- Run after sql/session_lock.sql in one transaction: two requests with one token take turns
-- on the session's lock, and the second sees the token spent.
WITH presented AS (
    SELECT r.token_hash, r.used, r.expires_at > now() AND s.ends_at > now() AS live,
           s.id AS session_id, s.ends_at, u.id AS user_id, u.is_active
    FROM refresh_tokens AS r
    JOIN sessions AS s ON s.id = r.session_id
    JOIN users AS u ON u.id = s.user_id
    WHERE r.token_hash = :token_hash
    FOR UPDATE OF r
), spent AS (
    UPDATE refresh_tokens AS r SET used = true
    FROM presented AS p
    WHERE r.token_hash = p.token_hash AND p.is_active AND NOT p.used AND p.live
    RETURNING p.session_id, p.ends_at, p.user_id
), issued AS (
    INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
    SELECT :new_hash, session_id, least(now() + make_interval(secs => :refresh_ttl_seconds), ends_at)
    FROM spent
    RETURNING session_id, expires_at
), touched AS (
    UPDATE sessions AS s SET last_used_at = now() FROM spent WHERE s.id = spent.session_id
), ended AS (
    DELETE FROM sessions AS s USING presented AS p
    WHERE s.id = p.session_id AND p.is_active AND p.used
)
SELECT CASE WHEN p.token_hash IS NULL THEN 'unknown'
            WHEN NOT p.is_active THEN 'inactive'
            WHEN p.used THEN 'reused'
            WHEN i.session_id IS NOT NULL THEN 'rotated'
            ELSE 'unknown' END AS outcome,
       i.session_id, ceil(extract(epoch FROM i.expires_at - now()))::integer AS refresh_expires_in,
       u.id, u.email, u.username, u.name, u.is_active, u.created_at, u.updated_at
       , u.time_zone
FROM (SELECT) AS one
LEFT JOIN presented AS p ON true
LEFT JOIN issued AS i ON true
LEFT JOIN users AS u ON u.id = p.user_id AND i.session_id IS NOT NULL
