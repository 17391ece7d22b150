-- The caller's account, with what the caller rule says of the token (NULL columns: no such user).
SELECT u.id, u.email, u.username, u.name, u.is_active, u.created_at, u.updated_at,
       u.external, u.hashed_password, {{caller}} AS may_act
     , u.time_zone
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
