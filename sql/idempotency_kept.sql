-- What was kept for a key younger than a day, if anything (after idempotency_claim's lock).
SELECT request, status, headers, body
FROM idempotency_keys
WHERE user_id = :user_id AND key = :key AND created_at >= now() - interval '24 hours'
