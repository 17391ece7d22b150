-- Inside the request's transaction: take the key, with a lock held until commit, so a second
-- request with it while the first runs is told so at once instead of waiting. A user's expired
-- keys go on the way. (What was kept for the key is read by the next statement, whose snapshot
-- is taken after the lock: this one's may predate a first request that committed meanwhile.)
WITH expired AS (
    DELETE FROM idempotency_keys
    WHERE user_id = :user_id AND created_at < now() - interval '24 hours'
)
SELECT pg_try_advisory_xact_lock(hashtextextended(:user_id || E'\n' || :key, 0)) AS taken
