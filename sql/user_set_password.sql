-- Set the caller's password and end every session of theirs (the one asking included); the
-- route starts a new one in the same transaction. No row when the caller may not act.
WITH changed AS (
    UPDATE users AS u SET hashed_password = :password_hash, updated_at = now()
    WHERE u.id = :user_id AND {{caller}}
    RETURNING u.id, u.email, u.username, u.name, u.is_active, u.created_at, u.updated_at
            , u.time_zone
), ended AS (
    DELETE FROM sessions WHERE user_id IN (SELECT id FROM changed)
)
SELECT * FROM changed
