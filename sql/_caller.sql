-- The caller rule, stated once: the token's user (the row aliased u, found by :user_id) may act.
-- Every task statement pastes it as {{caller}}; statements that write tasks take the row lock
-- (FOR NO KEY UPDATE), so one user's writes run one at a time, each before any task row is
-- locked: no deadlocks, and a user's changes commit in the order they were numbered.
u.is_active
