-- Register a user (a NULL :username: one derived from :base_username). A taken email or
-- username raises unique_violation naming its index.
INSERT INTO users (email, username, hashed_password, name)
VALUES (:email, coalesce(:username::text, {{free_username}}), :password_hash, :name)
RETURNING id, email, username, name, is_active, created_at, updated_at
     , time_zone
