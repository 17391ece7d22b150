-- A new signing secret: every attempt from now on signs with it (each attempt reads the
-- secret when it is claimed), the old one signs nothing more.
UPDATE webhooks AS w SET secret = :secret, updated_at = now()
WHERE w.id = :webhook_id AND w.user_id = :user_id
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
RETURNING w.id, w.url, w.events, w.description, w.active, w.secret, w.created_at, w.updated_at
