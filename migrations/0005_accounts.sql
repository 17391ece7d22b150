-- depends: 0004_sync
-- Accounts for real: display names, accounts from a trusted issuer, sessions with single-use
-- refresh tokens, and login throttling (docs/api.md, "Auth and sessions").

-- A display name, stored trimmed of Unicode White_Space (the set 0002 trims titles of).
ALTER TABLE users ADD COLUMN name text CONSTRAINT users_name_check CHECK (
    char_length(name) BETWEEN 1 AND 100
    AND name = btrim(name, E'\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000')
);

-- An account from a trusted issuer: its id is the issuer's `sub`, it has no password and may
-- have no email. Every other account has both.
ALTER TABLE users ADD COLUMN external boolean NOT NULL DEFAULT false;
ALTER TABLE users ALTER COLUMN hashed_password DROP NOT NULL;
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE users ADD CONSTRAINT users_credentials_check CHECK (
    CASE WHEN external THEN hashed_password IS NULL
         ELSE hashed_password IS NOT NULL AND email IS NOT NULL END
);

-- A session: what a login (or registration, or password change) starts, and every access token
-- of it names (`sid`). It ends when deleted, or at ends_at whatever is refreshed.
CREATE TABLE sessions (
    id           text        PRIMARY KEY DEFAULT gen_random_uuid()::text,
    user_id      text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    ends_at      timestamptz NOT NULL,
    user_agent   text        CONSTRAINT sessions_user_agent_check CHECK (char_length(user_agent) <= 200)
);
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);
CREATE INDEX sessions_ends_idx ON sessions (ends_at);

-- Every refresh token a session was given, by the SHA-256 of the token (the token itself is
-- never stored). A used one stays, so that presenting it again is seen as the theft it is.
CREATE TABLE refresh_tokens (
    token_hash bytea       PRIMARY KEY CONSTRAINT refresh_tokens_hash_check CHECK (octet_length(token_hash) = 32),
    session_id text        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used       boolean     NOT NULL DEFAULT false
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- Failed logins per account (or unknown identifier) and client address, in a window that
-- starts at the first failure. Rows whose window is over are swept by later logins.
CREATE TABLE login_failures (
    subject  text        NOT NULL,
    address  text        NOT NULL,
    failures integer     NOT NULL CHECK (failures >= 0),
    since    timestamptz NOT NULL,
    PRIMARY KEY (subject, address)
);
CREATE INDEX login_failures_since_idx ON login_failures (since);
