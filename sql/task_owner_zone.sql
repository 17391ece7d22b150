-- The caller's time zone: the zone of their tasks without one of their own. No row when the
-- caller may not act.
SELECT u.time_zone FROM users AS u WHERE u.id = :user_id AND {{caller}}
