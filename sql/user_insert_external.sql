-- The account of a trusted issuer's `sub` (:id), made by its first accepted token: the email
-- claim when it is not taken, a username derived from :base_username, the name claim. An
-- account that exists already (the issuer's or not) is left as it is; so is one a concurrent
-- request made first (no row comes back then).
INSERT INTO users (id, email, username, name, external, hashed_password)
SELECT :id,
       CASE WHEN NOT EXISTS (SELECT 1 FROM users AS taken WHERE lower(taken.email) = lower(:email::text))
            THEN :email::text END,
       {{free_username}}, :name, true, NULL
WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = :id)
ON CONFLICT DO NOTHING
RETURNING id
