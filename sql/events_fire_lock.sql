-- The first statement of a firing (todo_api/reminder_firing.py): the owners of the earliest
-- due reminders, their rows locked as a write locks them, skipping those that another process
-- is firing or a write holds (they are taken at the next round). Holding the owner's lock, the
-- firing sees the latest committed state of their tasks and numbers its events in commit order.
SELECT u.id FROM users AS u
WHERE u.id IN (
    SELECT t.user_id FROM tasks AS t
    WHERE t.next_reminder_at <= now()
    ORDER BY t.next_reminder_at LIMIT :batch
)
FOR NO KEY UPDATE SKIP LOCKED
