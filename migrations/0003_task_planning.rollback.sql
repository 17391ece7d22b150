-- depends: 0002_title_whitespace
DROP FUNCTION task_move_position(text, bigint, bigint);
DROP TRIGGER tasks_05_position ON tasks;
DROP FUNCTION tasks_top_position();
DROP FUNCTION position_between(text, text);
DROP FUNCTION position_after(text);
DROP FUNCTION position_before(text);
DROP TRIGGER tasks_10_version ON tasks;
DROP FUNCTION tasks_bump_version();
DROP INDEX tasks_tags_idx;
DROP INDEX tasks_user_priority_idx;
DROP INDEX tasks_user_due_desc_idx;
DROP INDEX tasks_user_due_asc_idx;
ALTER TABLE tasks
    DROP COLUMN due_date,
    DROP COLUMN priority,
    DROP COLUMN tags,
    DROP COLUMN position,
    DROP COLUMN version;
DROP FUNCTION task_tags_valid(text[]);
DROP TYPE task_priority;
