-- Change only the given fields ($3, $5 say whether title and description were given; $7 NULL
-- leaves completed alone). updated_at moves only when a value really changes.
UPDATE tasks AS t SET
    title = CASE WHEN $3::boolean THEN $4::text ELSE t.title END,
    description = CASE WHEN $5::boolean THEN $6::text ELSE t.description END,
    completed = COALESCE($7::boolean, t.completed),
    completed_at = CASE
        WHEN $7::boolean IS NULL OR $7::boolean = t.completed THEN t.completed_at
        WHEN $7::boolean THEN now()
    END,
    updated_at = CASE
        WHEN ($3::boolean AND $4::text IS DISTINCT FROM t.title)
          OR ($5::boolean AND $6::text IS DISTINCT FROM t.description)
          OR ($7::boolean IS NOT NULL AND $7::boolean <> t.completed)
        THEN now()
        ELSE t.updated_at
    END
WHERE t.id = $2 AND t.user_id = $1
  AND EXISTS (SELECT 1 FROM users WHERE id = $1 AND is_active)
RETURNING t.id, t.user_id, t.title, t.description, t.completed, t.completed_at, t.created_at, t.updated_at
