-- Delete a webhook; its deliveries go with it (cascade), so pending ones are never sent.
DELETE FROM webhooks AS w
WHERE w.id = :webhook_id AND w.user_id = :user_id
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
RETURNING w.id
