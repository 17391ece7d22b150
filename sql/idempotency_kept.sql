-- What was kept for a key younger than a day, if anything (after idempotency_claim's lock), and
-- what the caller rule says of the caller now: a replay is an ordinary request first, so an
-- ended session or an inactive account never gets the kept response. One row always
-- (is_active NULL: no such user; request NULL: nothing kept).
SELECT u.is_active, {{caller}} AS may_act, k.request, k.status, k.headers, k.body
FROM (SELECT) AS one
LEFT JOIN users AS u ON u.id = :user_id
LEFT JOIN idempotency_keys AS k
    ON k.user_id = :user_id AND k.key = :key AND k.created_at >= now() - interval '24 hours'
