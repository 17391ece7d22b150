-- Change only the given fields (:set_title and :set_description say whether those were given;
-- :completed NULL leaves completed alone). updated_at moves only when a value really changes.
UPDATE tasks AS t SET
    title = CASE WHEN :set_title::boolean THEN :title::text ELSE t.title END,
    description = CASE WHEN :set_description::boolean THEN :description::text ELSE t.description END,
    completed = COALESCE(:completed::boolean, t.completed),
    completed_at = CASE
        WHEN :completed::boolean IS NULL OR :completed::boolean = t.completed THEN t.completed_at
        WHEN :completed::boolean THEN now()
    END,
    updated_at = CASE
        WHEN (:set_title::boolean AND :title::text IS DISTINCT FROM t.title)
          OR (:set_description::boolean AND :description::text IS DISTINCT FROM t.description)
          OR (:completed::boolean IS NOT NULL AND :completed::boolean <> t.completed)
        THEN now()
        ELSE t.updated_at
    END
WHERE t.id = :task_id AND t.user_id = :user_id
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
RETURNING t.id, t.user_id, t.title, t.description, t.completed, t.completed_at, t.created_at, t.updated_at
