SELECT id, email, username, is_active, created_at, updated_at
FROM users
WHERE id = :user_id
