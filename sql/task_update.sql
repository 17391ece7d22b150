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
    -- The schedule (due time, zone, recurrence, reminders), planned (:set_schedule) from the
    -- row at version :based_on, or from no schedule but the fields :given, in the owner's zone
    -- :owner_zone (todo_api/models/time.py, `plan`); without :set_schedule the statement leaves
    -- it alone, and refuses to complete a pending recurring task (that advances the series,
    -- which needs the plan).
    , due_time = CASE WHEN :set_schedule::boolean THEN :due_time::time ELSE t.due_time END
    , time_zone = CASE WHEN :set_schedule::boolean THEN :time_zone::text ELSE t.time_zone END
    , due_at = CASE WHEN :set_schedule::boolean THEN :due_at::timestamptz ELSE t.due_at END
    , recurrence = CASE WHEN :set_schedule::boolean THEN :recurrence::text ELSE t.recurrence END
    , recurrence_basis = CASE WHEN :set_schedule::boolean THEN :recurrence_basis::text ELSE t.recurrence_basis END
    , occurrence = CASE WHEN :set_schedule::boolean THEN :occurrence::integer ELSE t.occurrence END
    , last_completed_at = CASE WHEN :advanced::boolean THEN now() ELSE t.last_completed_at END
    , reminders = CASE WHEN :set_schedule::boolean THEN :reminders::jsonb ELSE t.reminders END
    -- The series' next occurrences planned ahead with the schedule (migrations/0014); a due
    -- date set without a plan forgets them (its completion is then planned again). Each array
    -- comes as one text literal (db/tasks.py, _array).
    , ahead_dates = CASE WHEN :set_schedule::boolean THEN :ahead_dates::text::date[]
                         WHEN :set_due_date::boolean THEN NULL ELSE t.ahead_dates END
    , ahead_due_at = CASE WHEN :set_schedule::boolean THEN :ahead_due_at::text::timestamptz[]
                          WHEN :set_due_date::boolean THEN NULL ELSE t.ahead_due_at END
    , ahead_zone = CASE WHEN :set_schedule::boolean THEN :ahead_zone::text
                        WHEN :set_due_date::boolean THEN NULL ELSE t.ahead_zone END
    , ahead_ends = CASE WHEN :set_schedule::boolean THEN :ahead_ends::boolean
                        WHEN :set_due_date::boolean THEN NULL ELSE t.ahead_ends END
WHERE t.id = :task_id AND t.user_id = :user_id AND {{if_match}}
  AND CASE WHEN NOT :set_schedule::boolean
           THEN NOT (t.recurrence IS NOT NULL AND NOT t.completed AND COALESCE(:completed::boolean, false))
           WHEN :based_on::integer IS NOT NULL THEN t.version = :based_on::integer
           -- Planned without reading the row, as a task without a schedule (schedules.py,
           -- `_write_unread`): the fields not in :given must be as such a task has them.
           ELSE (t.due_date IS NULL OR 'due_date' = ANY(:given::text[]))
                AND (t.due_time IS NULL OR 'due_time' = ANY(:given::text[]))
                AND (t.time_zone IS NULL OR 'time_zone' = ANY(:given::text[]))
                AND (t.recurrence IS NULL OR 'recurrence' = ANY(:given::text[]))
                AND (t.recurrence_basis = 'due' OR 'recurrence_basis' = ANY(:given::text[]))
                AND (t.reminders = '[]'::jsonb OR 'reminders' = ANY(:given::text[])) END
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}}
              AND (NOT :set_schedule::boolean OR u.time_zone = :owner_zone::text) FOR NO KEY UPDATE)
RETURNING {{task_columns}}
