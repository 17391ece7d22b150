-- Reminder events are for the streams open when they fire (they are not replayed): those of
-- more than a day ago go, a batch at a time.
DELETE FROM reminder_events AS e
WHERE e.id IN (
    SELECT old.id FROM reminder_events AS old
    WHERE old.recorded_at < now() - interval '1 day'
    LIMIT 1000
)
