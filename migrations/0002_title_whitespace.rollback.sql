-- depends: 0001_users_and_tasks
ALTER TABLE tasks DROP CONSTRAINT tasks_title_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_title_check CHECK (
    char_length(title) BETWEEN 1 AND 200 AND title = btrim(title, E' \t\n\r\f\v')
);
