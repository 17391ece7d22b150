-- Whether the task t is overdue: pending, and due before the caller's today (:today, the date
-- in their zone). Stated once for the listing's `overdue` and the agents' overview.
COALESCE(NOT t.completed AND t.due_date < :today::text::date, false)
