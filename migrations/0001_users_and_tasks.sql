-- Users own tasks; a deleted user takes their tasks along.
CREATE TABLE users (
    id              text        PRIMARY KEY DEFAULT gen_random_uuid()::text,
    email           text        NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254 AND email = lower(email)),
    username        text        NOT NULL CHECK (username ~ '^[A-Za-z0-9_.-]{3,32}$'),
    hashed_password text        NOT NULL,
    is_active       boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE tasks (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200 AND title = btrim(title, E' \t\n\r\f\v')),
    description  text        CHECK (char_length(description) <= 1000),
    completed    boolean     NOT NULL DEFAULT false,
    completed_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tasks_completed_at_matches CHECK (completed = (completed_at IS NOT NULL))
);
-- One index per sort order of the list query; each starts with user_id and ends with id (the tie-breaker).
CREATE INDEX tasks_user_created_idx ON tasks (user_id, created_at, id);
CREATE INDEX tasks_user_updated_idx ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_user_title_idx ON tasks (user_id, lower(title), id);
