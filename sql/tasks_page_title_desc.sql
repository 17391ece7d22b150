-- One page of a user's tasks, Z to A, after the cursor (:after_key, :after_id), with the count of all matches.
-- When the caller may not act, one row comes back with NULL task columns: is_active NULL means no
-- such user, may_act false that the caller rule refused them.
WITH matching AS NOT MATERIALIZED (
    SELECT id, user_id, title, description, completed, completed_at, created_at, updated_at
    FROM tasks
    WHERE user_id = :user_id
      AND (:completed::boolean IS NULL OR completed = :completed::boolean)
      AND (:pattern::text IS NULL OR title ILIKE :pattern::text OR description ILIKE :pattern::text)
)
SELECT u.is_active, {{caller}} AS may_act, (SELECT count(*) FROM matching) AS total, page.*
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN LATERAL (
    SELECT * FROM matching
    WHERE :after_key::text IS NULL OR (lower(title), id) < (lower(:after_key::text), :after_id::bigint)
    ORDER BY lower(title) DESC, id DESC
    LIMIT :limit
) AS page ON {{caller}}
