-- Registrations deriving a username from one base take turns, each holding this lock until it
-- commits; run as a statement of its own, so the look that follows sees the names taken before.
SELECT pg_advisory_xact_lock(hashtext('username:' || lower(:base_username)))
