-- Open a stream, under the user's row lock (events_stream_lock.sql): claim one of the user's
-- :max_streams places unless the caller rule refuses the caller or every place is taken
-- (expired claims are removed on the way and never count). Always one row: what the caller rule
-- says, whether the place was claimed, and where the user's change feed and reminder events
-- stand now (a stream that starts "from now" starts there).
WITH purged AS (
    DELETE FROM event_streams AS es
    WHERE es.user_id = :user_id AND es.expires_at <= now()
),
open_streams AS (
    SELECT count(*) AS n FROM event_streams AS es
    WHERE es.user_id = :user_id AND es.expires_at > now()
),
claimed AS (
    INSERT INTO event_streams (id, user_id, expires_at)
    SELECT :stream_id, u.id, now() + make_interval(secs => :claim_seconds)
    FROM users AS u, open_streams
    WHERE u.id = :user_id AND {{caller}} AND open_streams.n < :max_streams
    RETURNING id
)
SELECT u.is_active, {{caller}} AS may_act,
       EXISTS (SELECT 1 FROM claimed) AS claimed,
       head.change_seq AS feed_seq, head.id AS feed_id,
       (SELECT COALESCE(max(e.id), 0) FROM reminder_events AS e
        WHERE e.user_id = :user_id) AS reminder_id
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN LATERAL (
    -- The position of the user's latest change (sync_changes.sql orders by the same key).
    SELECT latest.change_seq, latest.id FROM (
        (SELECT t.change_seq, t.id FROM tasks AS t WHERE t.user_id = :user_id
         ORDER BY t.change_seq DESC, t.id DESC LIMIT 1)
        UNION ALL
        (SELECT ts.change_seq, ts.task_id FROM task_tombstones AS ts WHERE ts.user_id = :user_id
         ORDER BY ts.change_seq DESC, ts.task_id DESC LIMIT 1)
    ) AS latest
    ORDER BY latest.change_seq DESC, latest.id DESC LIMIT 1
) AS head ON true
