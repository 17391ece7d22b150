-- The poll of one process (todo_api/event_hub.py), for every user with an open stream in it at
-- once: which of them have a change or a reminder event numbered after the last one the process
-- knows of. Only numbers, read for the process itself (each stream then reads its own events
-- under the caller rule). Each look is one backward step of an index that starts with user_id.
SELECT w.user_id, heads.feed_seq, heads.reminder_id
FROM unnest(:user_ids::text[], :feed_seqs::bigint[], :reminder_ids::bigint[])
    AS w (user_id, feed_seq, reminder_id)
CROSS JOIN LATERAL (
    SELECT GREATEST(
               (SELECT max(t.change_seq) FROM tasks AS t WHERE t.user_id = w.user_id),
               (SELECT max(ts.change_seq) FROM task_tombstones AS ts WHERE ts.user_id = w.user_id)
           ) AS feed_seq,
           (SELECT max(e.id) FROM reminder_events AS e WHERE e.user_id = w.user_id) AS reminder_id
) AS heads
WHERE heads.feed_seq > w.feed_seq OR heads.reminder_id > w.reminder_id
