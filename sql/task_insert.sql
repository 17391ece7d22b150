-- Create a task for the caller, in list :list_id (NULL: their default list), on top of that
-- list's manual order (trigger tasks_05_position); no row comes back when the caller may not
-- act; a list that is not one of the caller's raises foreign_key_violation (tasks_list_fkey).
-- Dates travel as text: asyncpg would send 9999-12-31 and 0001-01-01 as infinity and -infinity.
-- due_at and each reminder's fires_at come computed (todo_api/models/time.py); next_reminder_at
-- follows (trigger tasks_15_next_reminder); so do the series' next occurrences planned ahead
-- (ahead_*, NULL: none; migrations/0014), each array as one text literal (db/tasks.py, _array).
INSERT INTO tasks AS t (user_id, title, description, completed, completed_at, due_date, priority, tags
    , list_id
    , due_time
    , time_zone
    , due_at
    , recurrence
    , recurrence_basis
    , reminders
    , ahead_dates
    , ahead_due_at
    , ahead_zone
    , ahead_ends
)
SELECT :user_id, :title, :description, :completed, CASE WHEN :completed THEN now() END,
       :due_date::text::date, :priority::text::task_priority, :tags::text[]
       , :list_id::bigint
       , :due_time::time
       , :time_zone::text
       , :due_at::timestamptz
       , :recurrence::text
       , :recurrence_basis::text
       , :reminders::jsonb
       , :ahead_dates::text::date[]
       , :ahead_due_at::text::timestamptz[]
       , :ahead_zone::text
       , :ahead_ends::boolean
-- due_at was computed in the owner's zone :owner_zone (NULL: it did not need it)
WHERE EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}}
              AND (:owner_zone::text IS NULL OR u.time_zone = :owner_zone::text) FOR NO KEY UPDATE)
RETURNING {{task_columns}}
