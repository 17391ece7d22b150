-- The first step of adding a webhook: lock the caller's row (as every task write does), so the
-- count in webhook_insert.sql, a statement of its own in the same transaction, sees every
-- webhook committed before, and no two additions pass the limit together. No row: no such user.
SELECT u.is_active, {{caller}} AS may_act
FROM users AS u
WHERE u.id = :user_id
FOR NO KEY UPDATE
