-- depends: 0009_personal_tokens
-- Live events (GET /api/{user_id}/events) and the firing of reminders.
--
-- event_tickets: a ticket lets a browser's EventSource (which cannot send headers) open a
-- stream. Only a hash of it is kept; it is deleted when used, so it works once, on whichever
-- worker or replica the stream lands.
CREATE TABLE event_tickets (
    ticket_hash bytea       PRIMARY KEY,
    user_id     text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id  text,       -- the session of the token that made it (NULL: an issuer's token)
    token_id    bigint,     -- the personal access token that made it (NULL: another kind)
    expires_at  timestamptz NOT NULL
);
CREATE INDEX event_tickets_user_idx ON event_tickets (user_id, expires_at);

-- event_streams: one claim per open stream, so EVENTS_MAX_STREAMS holds across workers and
-- replicas. A stream renews its claim at each heartbeat and deletes it when it ends; a process
-- killed outright leaves claims that expire by themselves (todo_api/event_hub.py says when).
CREATE TABLE event_streams (
    id         uuid        PRIMARY KEY,
    user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
CREATE INDEX event_streams_user_idx ON event_streams (user_id, expires_at);

-- reminder_events: each fired reminder, recorded in the transaction that claims it (so it fires
-- exactly once) and read by the open streams of its user. The firing transaction holds the
-- user's row lock (FOR NO KEY UPDATE, as writes do) when it takes the number, so a user's
-- reminder events commit in the order of their numbers, as the change feed's do (0004): a
-- stream that has seen number N of a user never misses a smaller one committed later.
-- `data` is the event as streams and webhooks send it ({"task": {...}, "fires_at": "..."}).
CREATE TABLE reminder_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    task_id     bigint      NOT NULL,
    fires_at    timestamptz NOT NULL,
    data        jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    -- A guard: one reminder instant of a task is recorded once.
    CONSTRAINT reminder_events_once UNIQUE (task_id, fires_at)
);
CREATE INDEX reminder_events_user_idx ON reminder_events (user_id, id);
CREATE INDEX reminder_events_age_idx ON reminder_events (recorded_at);
