-- Delete an account and everything of it (ON DELETE CASCADE), its login counts too.
WITH gone AS (
    DELETE FROM users WHERE id = :id RETURNING id
), counts AS (
    DELETE FROM login_failures WHERE subject IN (SELECT 'account:' || id FROM gone)
)
SELECT count(*) AS deleted FROM gone
