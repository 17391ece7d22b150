-- Finished deliveries are kept :keep_days days in the log, then removed, :batch at a time.
DELETE FROM webhook_deliveries AS d
WHERE d.id IN (
    SELECT x.id FROM webhook_deliveries AS x
    WHERE x.status <> 'pending' AND x.created_at < now() - make_interval(days => :keep_days)
    LIMIT :batch
)
