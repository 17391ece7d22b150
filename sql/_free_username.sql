-- The first username nobody has (case-insensitively) of :base_username, then :base_username-2,
-- -3, ..., each cut to fit 32 characters. A concurrent insert can still take it first: the
-- insert then fails on users_username_key and is tried again.
SELECT c.candidate
FROM generate_series(1, 1000000) AS n
CROSS JOIN LATERAL (
    SELECT CASE WHEN n = 1 THEN :base_username::text
                ELSE left(:base_username::text, 32 - length('-' || n)) || '-' || n END AS candidate
) AS c
WHERE NOT EXISTS (SELECT 1 FROM users AS taken WHERE lower(taken.username) = lower(c.candidate))
LIMIT 1
