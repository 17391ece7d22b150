-- Use a ticket: deleted as it is read, so it works once, whichever process sees it first. Only
-- for the path's user, only before it expires. The session (or personal token) it carries is
-- then checked by the caller rule like a token's.
DELETE FROM event_tickets AS et
WHERE et.ticket_hash = :ticket_hash AND et.user_id = :user_id AND et.expires_at > now()
RETURNING et.session_id, et.token_id
