-- The outcome of one attempt, recorded only while the claim is still this process's. The
-- webhook's row is locked first (as deleting it does), then the delivery: delivered; or
-- failed, with the next attempt after the next of :delays (float8[]), or failed for good once
-- every delay is used. A delivery that fails for good, or succeeds, moves the webhook's count of
-- failed deliveries in a row; :disable_after of them turn it off.
WITH hook AS (
    SELECT w.id FROM webhooks AS w WHERE w.id = :webhook_id FOR NO KEY UPDATE
),
done AS (
    UPDATE webhook_deliveries AS d SET
        attempts = d.attempts + 1,
        status = CASE
            WHEN :delivered::boolean THEN 'delivered'
            WHEN d.attempts + 1 > cardinality(:delays::float8[]) THEN 'failed'
            ELSE 'pending'
        END,
        next_attempt_at = CASE
            WHEN :delivered::boolean OR d.attempts + 1 > cardinality(:delays::float8[]) THEN NULL
            ELSE now() + make_interval(secs => (:delays::float8[])[d.attempts + 1])
        END,
        last_status_code = :status_code::integer,
        last_error = :error::text,
        delivered_at = CASE WHEN :delivered::boolean THEN now() END,
        claimed_until = NULL,
        claim = NULL
    FROM hook
    WHERE d.id = :delivery_id AND d.claim = :claim AND d.webhook_id = hook.id
    RETURNING d.webhook_id, d.status
)
UPDATE webhooks AS w SET
    failures_in_a_row = CASE WHEN done.status = 'delivered' THEN 0 ELSE w.failures_in_a_row + 1 END,
    active = w.active AND NOT (done.status = 'failed' AND w.failures_in_a_row + 1 >= :disable_after),
    updated_at = CASE
        WHEN w.active AND done.status = 'failed' AND w.failures_in_a_row + 1 >= :disable_after
        THEN now() ELSE w.updated_at
    END
FROM done
WHERE w.id = done.webhook_id
  AND (done.status = 'failed' OR (done.status = 'delivered' AND w.failures_in_a_row > 0))
RETURNING w.active
