-- The first statement of opening a stream: the user's row lock (as writes take it), so two
-- streams opening at once count each other's claims (events_stream_claim.sql, next).
SELECT 1 FROM users AS u WHERE u.id = :user_id FOR NO KEY UPDATE
