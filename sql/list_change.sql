-- Rename one of the caller's lists (:name; NULL keeps it), or move it (:move) right after list
-- :after_id (NULL: first), with If-Match: only at one of those versions. version and
-- updated_at move only when the name or position changes (trigger lists_10_version). The
-- user's row is locked first; list_move_position then reads the neighbours with a fresh
-- snapshot (migration 0007), so concurrent moves never compute one position. A name another
-- of their lists has (case-insensitively) raises unique_violation (lists_user_name_key);
-- :after_id naming the list itself or no list of theirs raises no_data_found. No row when
-- there is no such list, the version does not match, or the caller may not act.
WITH changed AS (
    UPDATE lists AS t SET
        name = COALESCE(:name::text, t.name),
        position = CASE WHEN :move::boolean
                        THEN list_move_position(t.user_id, t.id, :after_id::bigint)
                        ELSE t.position END
    WHERE t.id = :list_id AND t.user_id = :user_id AND {{if_match}}
      AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
    RETURNING t.*
)
SELECT l.id, l.name, l.is_default, l.position, l.version, n.task_count, n.pending_count,
       l.created_at, l.updated_at
FROM changed AS l CROSS JOIN LATERAL list_counts(l.user_id, l.id) AS n
