-- depends: 0008_time
-- Webhooks (API.md, "Webhooks"): a user's endpoints, and the outbox of their deliveries.
--
-- At least once: every task write records its event in webhook_deliveries in the same
-- transaction as the change (the triggers below), so a commit and its deliveries are one; the
-- delivery worker of every process (todo_api/webhook_worker.py) claims due rows with FOR
-- UPDATE SKIP LOCKED and a claimed_until that expires, so each attempt is made by one process,
-- and a process that dies mid-attempt leaves its rows to the others once the claim runs out.
CREATE TABLE webhooks (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url               text        NOT NULL,
    events            text[]      NOT NULL,
    description       text,
    -- The signing secret as shown (whsec_ and base64): it must be read back to sign with.
    secret            text        NOT NULL,
    active            boolean     NOT NULL DEFAULT true,
    failures_in_a_row integer     NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_user_idx ON webhooks (user_id, id);
-- What a task write asks: does this user have an active webhook at all? (one probe)
CREATE INDEX webhooks_user_active_idx ON webhooks (user_id) WHERE active;

-- One row per event and webhook: the outbox while pending, then the deliveries log. Its id is
-- the Standard Webhooks `webhook-id` (the same on every retry).
CREATE TABLE webhook_deliveries (
    id               text        PRIMARY KEY
                                 DEFAULT 'msg_' || replace(gen_random_uuid()::text, '-', ''),
    -- Deleting a webhook takes its deliveries along: pending ones stop.
    webhook_id       bigint      NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    type             text        NOT NULL,
    -- {"task": <the tasks row as to_jsonb>, ...}: rendered in the API's task shape at delivery
    -- by the function every response uses (todo_api/models/tasks.py, task_json).
    data             jsonb       NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    status           text        NOT NULL DEFAULT 'pending'
                                 CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz DEFAULT now(),
    claimed_until    timestamptz,
    claim            uuid,
    last_status_code integer,
    last_error       text,
    delivered_at     timestamptz
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (webhook_id, created_at, id);
CREATE INDEX webhook_deliveries_done_idx ON webhook_deliveries (created_at)
    WHERE status <> 'pending';

-- THE rule of who gets an event: one delivery per webhook of the user that is active and
-- subscribed to the type, now (a webhook write locks the user's row as task writes do, so a
-- webhook created, changed or deleted before a change commits is seen by it, one after is
-- not). `p_data` is the event's `data`: its `task` is the tasks row as `to_jsonb(t)`, other keys
-- are sent as they are (a reminder: {"task": to_jsonb(t), "fires_at": "...Z"}). Any
-- transaction may call it; it returns how many deliveries it recorded.
CREATE FUNCTION webhook_enqueue(p_user_id text, p_type text, p_data jsonb) RETURNS integer
LANGUAGE sql AS $$
    WITH added AS (
        INSERT INTO webhook_deliveries (webhook_id, type, data)
        SELECT w.id, p_type, p_data
        FROM webhooks AS w
        WHERE w.user_id = p_user_id AND w.active AND p_type = ANY (w.events)
        RETURNING 1
    )
    SELECT count(*)::integer FROM added
$$;

-- The task events, per statement (transition tables, as the counts of migration 0006): a
-- statement whose users have no active webhook costs one index probe and writes nothing.
-- A change of value (version moved) is task.completed when completed went false -> true or a
-- recurring task's occurrence went up (read through to_jsonb, so this holds before and after
-- the recurrence columns exist), task.updated otherwise.
CREATE FUNCTION tasks_webhook_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The one question a statement of users without an active webhook asks (one probe of
    -- webhooks_user_active_idx a user), spelled for each transition table.
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM old_rows AS r
                       JOIN webhooks AS w ON w.user_id = r.user_id AND w.active) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM new_rows AS r
                      JOIN webhooks AS w ON w.user_id = r.user_id AND w.active) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM webhook_enqueue(r.user_id, 'task.created', jsonb_build_object('task', to_jsonb(r)))
        FROM new_rows AS r;
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM webhook_enqueue(
            n.user_id,
            CASE WHEN (n.completed AND NOT o.completed)
                   OR (to_jsonb(n) ->> 'occurrence')::bigint > (to_jsonb(o) ->> 'occurrence')::bigint
                 THEN 'task.completed' ELSE 'task.updated' END,
            jsonb_build_object('task', to_jsonb(n)))
        FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
        WHERE n.version <> o.version;
    ELSE
        PERFORM webhook_enqueue(
            r.user_id, 'task.deleted', jsonb_build_object('task', to_jsonb(r), 'deleted_at', now()))
        FROM old_rows AS r;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER tasks_50_webhook_inserted AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_webhook_events();
CREATE TRIGGER tasks_51_webhook_updated AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_webhook_events();
CREATE TRIGGER tasks_52_webhook_deleted AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_webhook_events();
