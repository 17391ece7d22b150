-- Put one of the caller's lists right after list :after_id (NULL: first), changing only its
-- position. The user's row is locked first; list_move_position then reads the neighbours with
-- a fresh snapshot (migration 0007), so concurrent moves never compute one position. It raises
-- no_data_found when :after_id is the list itself or not one of the caller's lists. No row when
-- there is no such list, the version does not match If-Match, or the caller may not act.
WITH changed AS (
    UPDATE lists AS t SET position = list_move_position(t.user_id, t.id, :after_id::bigint)
    WHERE t.id = :list_id AND t.user_id = :user_id AND {{if_match}}
      AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
    RETURNING t.*
)
SELECT l.id, l.name, l.is_default, l.position, l.version, n.task_count, n.pending_count,
       l.created_at, l.updated_at
FROM changed AS l CROSS JOIN LATERAL list_counts(l.user_id, l.id) AS n
