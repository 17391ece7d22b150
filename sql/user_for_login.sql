-- :login is an email or a username; usernames cannot hold '@', so at most one row matches.
SELECT id, email, username, is_active, created_at, updated_at, hashed_password
FROM users
WHERE lower(email) = lower(:login) OR lower(username) = lower(:login)
LIMIT 1
