-- Change only the given fields (:set_title, :set_description and :set_due_date say whether those
-- were given; a NULL :completed, :priority or :tags leaves that field alone). version and
-- updated_at move only when a value really changes (trigger tasks_10_version). The due date
-- travels as text (see task_insert.sql).
UPDATE tasks AS t SET
    title = CASE WHEN :set_title::boolean THEN :title::text ELSE t.title END,
    description = CASE WHEN :set_description::boolean THEN :description::text ELSE t.description END,
    completed = COALESCE(:completed::boolean, t.completed),
    completed_at = CASE
        WHEN :completed::boolean IS NULL OR :completed::boolean = t.completed THEN t.completed_at
        WHEN :completed::boolean THEN now()
    END,
    due_date = CASE WHEN :set_due_date::boolean THEN :due_date::text::date ELSE t.due_date END,
    priority = COALESCE(:priority::text::task_priority, t.priority),
    tags = COALESCE(:tags::text[], t.tags)
    -- A task that changes list goes on top of its new one: a NULL position is filled by
    -- trigger tasks_05_position (a list not the caller's: foreign_key_violation, tasks_list_fkey).
    , list_id = COALESCE(:list_id::bigint, t.list_id)
    , position = CASE WHEN :list_id::bigint <> t.list_id THEN NULL ELSE t.position END
WHERE t.id = :task_id AND t.user_id = :user_id AND {{if_match}}
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
RETURNING t.id, t.user_id, t.title, t.description, t.completed, t.completed_at, t.due_date, t.priority, t.tags, t.position, t.version, t.created_at, t.updated_at
    , t.list_id
