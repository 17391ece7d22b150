-- depends: 0003_task_planning
DROP TABLE idempotency_keys;
DROP TRIGGER tasks_30_tombstone ON tasks;
DROP FUNCTION tasks_leave_tombstone();
DROP TRIGGER tasks_20_feed ON tasks;
DROP FUNCTION tasks_number_change();
DROP TABLE task_tombstones;
ALTER TABLE tasks DROP COLUMN change_seq;
DROP SEQUENCE task_change_seq;
