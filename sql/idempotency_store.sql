-- The response to keep for a key, in the transaction of the write it answers; an expired
-- record of the same key is replaced.
INSERT INTO idempotency_keys (user_id, key, request, status, headers, body)
VALUES (:user_id, :key, :request, :status, :headers::jsonb, :body)
ON CONFLICT (user_id, key) DO UPDATE
SET request = EXCLUDED.request, status = EXCLUDED.status, headers = EXCLUDED.headers,
    body = EXCLUDED.body, created_at = now()
