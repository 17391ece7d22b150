-- Move a task right after task :after_id (NULL: to the top) of list :list_id (NULL: its own),
-- changing only its position and list. The user's row is locked first (as by every task
-- write); task_move_position then reads the neighbours with a fresh snapshot, after that lock,
-- so concurrent moves see each other's results (migrations 0003, 0007). It raises
-- no_data_found when :after_id is the task itself or not a task of that list, and
-- foreign_key_violation when :list_id is not one of the user's lists. Moving a task to where it
-- already is changes nothing.
UPDATE tasks AS t SET
    position = task_move_position(
        t.user_id, t.id, COALESCE(:list_id::bigint, t.list_id), :after_id::bigint),
    list_id = COALESCE(:list_id::bigint, t.list_id)
WHERE t.id = :task_id AND t.user_id = :user_id AND {{if_match}}
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
RETURNING {{task_columns}}
