-- A ticket for the caller's event stream (POST /api/{user_id}/events/tickets): its hash kept
-- with the caller's session (or personal token) until it expires; the user's expired tickets are removed on the
-- way. No row when the caller rule refuses the caller.
WITH purged AS (
    DELETE FROM event_tickets AS et
    WHERE et.user_id = :user_id AND et.expires_at <= now()
)
INSERT INTO event_tickets (ticket_hash, user_id, session_id, token_id, expires_at)
SELECT :ticket_hash, u.id, :session_id, :token_id::bigint, now() + make_interval(secs => :ttl_seconds)
FROM users AS u
WHERE u.id = :user_id AND {{caller}}
RETURNING expires_at
