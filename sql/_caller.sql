-- The caller rule, stated once: the token's user (the row aliased u, found by :user_id) may act.
-- A personal access token names its row (:token_id), which must not have been deleted or have
-- expired; an access token of ours names its session (:session_id), which must not have ended;
-- a token of a trusted issuer names neither, and acts only for an account of that issuer (so an
-- issuer can never act as an account registered here). Each is one primary-key lookup. Every
-- statement that acts for a caller pastes it as {{caller}}; statements that write tasks take
-- the row lock (FOR NO KEY UPDATE), so one user's writes run one at a time, each before any
-- task row is locked: no deadlocks, and a user's changes commit in the order they were
-- numbered.
u.is_active AND CASE
    WHEN :token_id::bigint IS NOT NULL THEN EXISTS (
        SELECT 1 FROM personal_tokens AS p
        WHERE p.id = :token_id::bigint AND p.user_id = u.id
          AND (p.expires_at IS NULL OR p.expires_at > now())
    )
    WHEN :session_id::text IS NULL THEN u.external
    ELSE EXISTS (
        SELECT 1 FROM sessions AS s
        WHERE s.id = :session_id::text AND s.user_id = u.id AND s.ends_at > now()
    )
END
