-- A stream's heartbeat: its claim renewed while the caller rule still lets the caller act. No
-- row: the session ended (logout, password change), the account is inactive or gone, or the
-- claim itself is gone; the stream then ends.
UPDATE event_streams AS es
SET expires_at = now() + make_interval(secs => :claim_seconds)
FROM users AS u
WHERE es.id = :stream_id AND es.user_id = :user_id AND u.id = :user_id AND {{caller}}
RETURNING es.id
