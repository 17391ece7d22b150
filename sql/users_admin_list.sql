-- Every account for the operator: who, whether active, when made, how many tasks.
SELECT u.id, u.email, u.username, u.is_active, u.created_at,
       (SELECT count(*) FROM tasks AS t WHERE t.user_id = u.id) AS tasks
FROM users AS u
ORDER BY u.created_at, u.id
