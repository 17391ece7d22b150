-- The first step of a refresh: lock the session of the presented token (:token_hash), if any.
-- Every statement that ends sessions locks the session before its refresh tokens (deleting a
-- session cascades to them); a refresh locks them in the same order, so the two never
-- deadlock. Run as a statement of its own, in the refresh's transaction: the one that follows
-- then sees whatever a concurrent refresh of the same session committed.
SELECT s.id
FROM sessions AS s
WHERE s.id = (SELECT r.session_id FROM refresh_tokens AS r WHERE r.token_hash = :token_hash)
FOR NO KEY UPDATE
