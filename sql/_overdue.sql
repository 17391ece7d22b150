-- Whether the task t is overdue: pending, and its due_at passed (:now), or, without a due time,
-- due before the caller's today (:today, the date in their zone). Stated once for the
-- listing's `overdue` and the agents' overview.
COALESCE(NOT t.completed AND CASE WHEN t.due_at IS NULL THEN t.due_date < :today::text::date
                                  ELSE t.due_at < :now::timestamptz END, false)
