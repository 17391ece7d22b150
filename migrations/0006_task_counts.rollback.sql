-- depends: 0005_accounts
-- pg_trgm and btree_gin stay installed: other schemas of the database may use them.
CREATE INDEX IF NOT EXISTS tasks_tags_idx ON tasks USING gin (tags);
DROP INDEX IF EXISTS tasks_user_tags_idx;
DROP INDEX IF EXISTS tasks_user_description_trgm_idx;
DROP INDEX IF EXISTS tasks_user_title_trgm_idx;
DROP INDEX IF EXISTS tasks_description_trgm_idx;
DROP INDEX IF EXISTS tasks_title_trgm_idx;
DROP TRIGGER tasks_42_count_updated ON tasks;
DROP TRIGGER tasks_41_count_deleted ON tasks;
DROP TRIGGER tasks_40_count_inserted ON tasks;
DROP FUNCTION tasks_count_updated();
DROP FUNCTION tasks_count_deleted();
DROP FUNCTION tasks_count_inserted();
DROP TABLE task_counts;
