-- The delivery worker (todo_api/webhook_worker.py) takes up to :batch due deliveries of active
-- webhooks for one attempt each: rows another process holds are skipped (SKIP LOCKED while it
-- claims; claimed_until while it attempts), and a claim runs out after :claim_seconds, so the
-- rows of a process that died mid-attempt are taken again then. Each comes with its webhook's
-- url and secret as they are now (a rotated secret signs from the next claim on), and with
-- its task rebuilt as a tasks row, so the body is rendered by the same code as every response.
WITH due AS (
    SELECT d.id
    FROM webhook_deliveries AS d
    JOIN webhooks AS w ON w.id = d.webhook_id AND w.active
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
      AND (d.claimed_until IS NULL OR d.claimed_until <= now())
    ORDER BY d.next_attempt_at
    LIMIT :batch
    FOR UPDATE OF d SKIP LOCKED
),
claimed AS (
    UPDATE webhook_deliveries AS d
    SET claimed_until = now() + make_interval(secs => :claim_seconds), claim = :claim
    FROM due
    WHERE d.id = due.id
    RETURNING d.id, d.webhook_id, d.type, d.data, d.created_at
)
SELECT c.id AS delivery_id, c.webhook_id, c.type AS event_type, c.created_at AS event_at,
       (c.data - 'task' - 'deleted_at')::text AS event_extra,
       c.type = 'task.deleted' AS deleted, (c.data ->> 'deleted_at')::timestamptz AS deleted_at,
       w.url AS webhook_url, w.secret AS webhook_secret, t.*
FROM claimed AS c
JOIN webhooks AS w ON w.id = c.webhook_id
CROSS JOIN LATERAL jsonb_populate_record(NULL::tasks, c.data -> 'task') AS t
