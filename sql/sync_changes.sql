-- One page of a user's change feed after (:after_seq, :after_id): their tasks and tombstones
-- whose latest change is numbered after that position, in number order (migration 0004 says
-- why a reader never misses one). The first row always says whether the caller may act (NULL
-- task columns when nothing changed). Tombstones older than the history kept (plus a day, so a
-- token still honoured never needs one that is gone) are removed on the way, so no job has to.
WITH purged AS (
    DELETE FROM task_tombstones AS ts
    WHERE ts.user_id = :user_id
      AND ts.deleted_at < now() - make_interval(days => :history_days + 1)
),
changed AS (
    SELECT t.change_seq, t.id, false AS deleted, NULL::timestamptz AS deleted_at,
           t.user_id, t.title, t.description, t.completed, t.completed_at, t.due_date,
           t.priority, t.tags, t.position, t.version, t.created_at, t.updated_at
           , t.list_id
           , t.due_time
           , t.time_zone
           , t.due_at
           , t.recurrence
           , t.recurrence_basis
           , t.occurrence
           , t.last_completed_at
           , t.reminders
    FROM tasks AS t
    WHERE t.user_id = :user_id AND (t.change_seq, t.id) > (:after_seq, :after_id)
    UNION ALL
    SELECT ts.change_seq, ts.task_id, true, ts.deleted_at,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
           , NULL
           , NULL
           , NULL
           , NULL
           , NULL
           , NULL
           , NULL
           , NULL
           , NULL
    FROM task_tombstones AS ts
    WHERE ts.user_id = :user_id AND (ts.change_seq, ts.task_id) > (:after_seq, :after_id)
)
SELECT u.is_active, {{caller}} AS may_act, page.*
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN LATERAL (
    SELECT * FROM changed ORDER BY change_seq, id LIMIT :limit
) AS page ON {{caller}}
