-- $1 is an email or a username; usernames cannot hold '@', so at most one row matches.
SELECT id, email, username, is_active, created_at, updated_at, hashed_password
FROM users
WHERE lower(email) = lower($1) OR lower(username) = lower($1)
LIMIT 1
