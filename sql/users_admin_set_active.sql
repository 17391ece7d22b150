-- Activate or deactivate an account. Deactivating ends its sessions (they end now but stay, so
-- a refresh token of theirs is answered 403 as the contract says, then swept like any ended one).
WITH changed AS (
    UPDATE users SET is_active = :active, updated_at = now()
    WHERE id = :id AND is_active <> :active
    RETURNING id
), ended AS (
    UPDATE sessions SET ends_at = least(ends_at, now())
    WHERE user_id = :id AND NOT :active
)
SELECT count(*) AS changed FROM changed
