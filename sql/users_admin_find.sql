-- The account an operator names by email, username (any case) or id.
SELECT u.id, u.email, u.username, u.is_active
FROM users AS u
WHERE u.id = :account OR lower(u.email) = lower(:account) OR lower(u.username) = lower(:account)
ORDER BY u.id = :account DESC
LIMIT 1
