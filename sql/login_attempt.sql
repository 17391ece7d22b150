-- A login attempt for :login (an email or a username, any case), or a password confirmation by
-- the account :user_id (PUT /api/auth/password, PATCH and DELETE /api/auth/me; :login NULL),
-- from :address, counted as a failure BEFORE the password is checked, so concurrent attempts
-- cannot slip past the limit (a success then clears the count: session_start.sql,
-- login_success.sql). One row: the account's columns (NULL
-- when none is named), its throttling `subject`, whether the attempt may go on (`allowed`: an
-- attempt that may not is not counted), and `retry_after`, the whole seconds until it may.
--
-- An account is one subject whatever names it; an identifier that names none is one by itself,
-- lower-cased (stored as a digest: it can be long). Limits: :max_failures in the window from
-- one address, :max_everywhere from all addresses together. A window starts at its first
-- failure; rows whose window is over are swept, a few a time, by every attempt.
WITH account AS (
    SELECT id, email, username, name, is_active, external, created_at, updated_at, hashed_password
         , time_zone
    FROM users
    WHERE id = :user_id::text OR lower(email) = lower(:login::text) OR lower(username) = lower(:login::text)
    LIMIT 1
), named AS (
    SELECT coalesce(
        (SELECT 'account:' || id FROM account),
        'account:' || :user_id::text,
        'unknown:' || encode(sha256(convert_to(lower(:login::text), 'UTF8')), 'hex')
    ) AS subject
), live AS (
    SELECT f.address, f.failures, f.since + make_interval(secs => :window_seconds) AS ends
    FROM login_failures AS f, named
    WHERE f.subject = named.subject AND f.since > now() - make_interval(secs => :window_seconds)
), counted AS (
    INSERT INTO login_failures AS f (subject, address, failures, since)
    SELECT named.subject, :address, 1, now() FROM named
    WHERE (SELECT coalesce(sum(failures), 0) FROM live) < :max_everywhere
    ON CONFLICT (subject, address) DO UPDATE SET
        failures = CASE WHEN f.since <= now() - make_interval(secs => :window_seconds) THEN 1
                        ELSE f.failures + 1 END,
        since = CASE WHEN f.since <= now() - make_interval(secs => :window_seconds) THEN now()
                     ELSE f.since END
    WHERE f.since <= now() - make_interval(secs => :window_seconds) OR f.failures < :max_failures
    RETURNING f.failures
), swept AS (
    DELETE FROM login_failures
    WHERE (subject, address) IN (
        SELECT subject, address FROM login_failures
        WHERE since <= now() - make_interval(secs => :window_seconds)
          AND subject <> (SELECT subject FROM named)
        ORDER BY since
        LIMIT 10
        FOR UPDATE SKIP LOCKED
    )
), free_again AS (
    -- When each limit lets an attempt through again: this address's window ends; for all
    -- addresses, the end of the oldest window whose passing leaves fewer than the limit.
    SELECT (SELECT max(ends) FROM live WHERE address = :address AND failures >= :max_failures) AS here,
           (SELECT min(ends) FROM (
                SELECT ends, coalesce(sum(failures) OVER (
                    ORDER BY ends DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS newer
                FROM live
            ) AS w
            WHERE newer < :max_everywhere
              AND (SELECT sum(failures) FROM live) >= :max_everywhere) AS everywhere
)
SELECT a.id, a.email, a.username, a.name, a.is_active, a.external, a.created_at, a.updated_at,
       a.hashed_password, named.subject, EXISTS (SELECT 1 FROM counted) AS allowed,
       a.time_zone,
       greatest(1, ceil(extract(epoch FROM
           greatest(free_again.here, free_again.everywhere) - now())))::integer AS retry_after
FROM named
CROSS JOIN free_again
LEFT JOIN account AS a ON true
