-- A stream ended: its place is free at once.
DELETE FROM event_streams AS es WHERE es.id = :stream_id
