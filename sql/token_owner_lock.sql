-- The first statement of making a personal access token: the caller rule's verdict, with the
-- user's row locked until commit, so the count that follows (in a statement of its own, with a
-- snapshot taken after this lock) sees every token made before: two at once never both take
-- the last place. No row: no such user.
SELECT u.is_active, {{caller}} AS may_act FROM users AS u WHERE u.id = :user_id FOR NO KEY UPDATE
