-- Add a webhook for the caller, unless they have :max_webhooks already (run after
-- webhook_owner_lock.sql, in its transaction). No row: the limit is reached (or the caller
-- may not act).
INSERT INTO webhooks AS w (user_id, url, events, description, secret)
SELECT :user_id, :url, :events::text[], :description, :secret
WHERE EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}})
  AND (SELECT count(*) FROM webhooks AS x WHERE x.user_id = :user_id) < :max_webhooks
RETURNING w.id, w.url, w.events, w.description, w.active, w.secret, w.created_at, w.updated_at
