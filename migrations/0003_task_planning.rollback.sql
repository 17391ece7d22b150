-- depends: 0002_title_whitespace
DROP TRIGGER tasks_05_position ON tasks;
DROP FUNCTION tasks_top_position();
DROP FUNCTION position_before(text);
DROP TRIGGER tasks_10_version ON tasks;
DROP FUNCTION tasks_bump_version();
ALTER TABLE tasks
    DROP COLUMN due_date,
    DROP COLUMN priority,
    DROP COLUMN tags,
    DROP COLUMN position,
    DROP COLUMN version;
DROP TYPE task_priority;
