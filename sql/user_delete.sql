-- Delete the caller's account: their tasks, sessions, sync history and idempotency keys go with
-- it (ON DELETE CASCADE), and so do their login counts. No row when the caller may not act.
WITH gone AS (
    DELETE FROM users AS u WHERE u.id = :user_id AND {{caller}} RETURNING u.id
), counts AS (
    DELETE FROM login_failures WHERE subject IN (SELECT 'account:' || id FROM gone)
)
SELECT id FROM gone
