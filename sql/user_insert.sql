-- Register a user; a taken email or username raises unique_violation naming its index.
INSERT INTO users (email, username, hashed_password)
VALUES (:email, :username, :password_hash)
RETURNING id, email, username, is_active, created_at, updated_at
