-- Delete one of the caller's personal access tokens: from the commit on, the caller rule refuses
-- it everywhere. No row: no such live token of theirs (or the caller may not act).
DELETE FROM personal_tokens AS p
WHERE p.id = :target_id AND p.user_id = :user_id
  AND (p.expires_at IS NULL OR p.expires_at > now())
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}})
RETURNING p.id
