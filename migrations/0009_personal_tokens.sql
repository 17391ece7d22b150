-- depends: 0008_time
-- Personal access tokens (scripts and agents): only a SHA-256 of each token is kept. The caller
-- rule (sql/_caller.sql) finds a token by its primary key, as it finds a session, so a
-- personal token costs a request what an access token does. A token that has expired is as good
-- as deleted: never accepted, never listed, not counted against the 20 a user may hold, and
-- removed when its owner next makes one.
CREATE TABLE personal_tokens (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    scope        text        NOT NULL CHECK (scope IN ('read', 'write')),
    token_hash   bytea       NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NULL,
    last_used_at timestamptz NULL
);
-- The user's tokens, newest first (the list), and how many they hold (the limit).
CREATE INDEX personal_tokens_user_idx ON personal_tokens (user_id, created_at, id);
