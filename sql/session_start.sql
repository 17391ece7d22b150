-- Start a session for :user_id with its first refresh token (stored as :token_hash). A login
-- passes its throttling :subject and :address, whose failure count it clears (NULL: nothing to
-- clear). A few sessions that ended are swept away on the way, so none linger without a job.
WITH cleared AS {{login_cleared}}, swept AS (
    DELETE FROM sessions
    WHERE id IN (
        SELECT id FROM sessions WHERE ends_at <= now()
        ORDER BY ends_at LIMIT 10 FOR UPDATE SKIP LOCKED
    )
), started AS (
    INSERT INTO sessions (user_id, ends_at, user_agent)
    VALUES (:user_id, now() + make_interval(secs => :session_max_seconds), :user_agent)
    RETURNING id, ends_at
), first_token AS (
    INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
    SELECT :token_hash, id, least(now() + make_interval(secs => :refresh_ttl_seconds), ends_at)
    FROM started
    RETURNING session_id, expires_at
)
SELECT session_id, ceil(extract(epoch FROM expires_at - now()))::integer AS refresh_expires_in
FROM first_token
