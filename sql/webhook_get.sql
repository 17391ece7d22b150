SELECT w.id, w.url, w.events, w.description, w.active, w.created_at, w.updated_at
FROM webhooks AS w
WHERE w.id = :webhook_id AND w.user_id = :user_id
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}})
