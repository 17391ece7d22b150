-- A task's columns as every statement that answers with tasks returns them (for the rows
-- aliased t), in the order of models/tasks.py's TaskOut: stated once, so a new field is added
-- here and nowhere else. Pasted as {{task_columns}}: a fragment whose name ends in _columns is a
-- list, pasted as it stands (db/queries.py).
t.id, t.user_id, t.title, t.description, t.completed, t.completed_at, t.due_date, t.priority,
t.tags, t.position, t.version, t.created_at, t.updated_at, t.list_id, t.due_time, t.time_zone,
t.due_at, t.recurrence, t.recurrence_basis, t.occurrence, t.last_completed_at, t.reminders
