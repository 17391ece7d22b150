-- One page of a user's tasks, Z to A, after the cursor ($5, $6), with the count of all matches.
-- The one row with NULL task columns and is_active NULL/false means no such active user.
WITH matching AS NOT MATERIALIZED (
    SELECT id, user_id, title, description, completed, completed_at, created_at, updated_at
    FROM tasks
    WHERE user_id = $1
      AND ($2::boolean IS NULL OR completed = $2::boolean)
      AND ($3::text IS NULL OR title ILIKE $3::text OR description ILIKE $3::text)
)
SELECT owner.is_active, (SELECT count(*) FROM matching) AS total, page.*
FROM (SELECT (SELECT is_active FROM users WHERE id = $1) AS is_active) AS owner
LEFT JOIN LATERAL (
    SELECT * FROM matching
    WHERE $5::text IS NULL OR (lower(title), id) < (lower($5::text), $6::bigint)
    ORDER BY lower(title) DESC, id DESC
    LIMIT $4
) AS page ON owner.is_active
