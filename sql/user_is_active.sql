-- NULL when the user does not exist.
SELECT is_active FROM users WHERE id = $1
