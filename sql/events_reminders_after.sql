-- The reminder events of a user numbered after :after_id, for a stream of theirs, oldest
-- first. The first row always says whether the caller may act (NULL event columns when there
-- is none), as sync_changes.sql does.
SELECT u.is_active, {{caller}} AS may_act, page.id, page.data
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN LATERAL (
    SELECT e.id, e.data::text AS data FROM reminder_events AS e
    WHERE e.user_id = :user_id AND e.id > :after_id
    ORDER BY e.id LIMIT :limit
) AS page ON {{caller}}
