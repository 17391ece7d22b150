-- Change only the given fields (:set_description says whether description was given; a NULL
-- :url, :events or :active leaves that one alone). updated_at moves only when a value does;
-- turning a webhook on again starts its count of failed deliveries afresh. Under the user's
-- row lock, as task writes: a change commits wholly before or after any task change.
UPDATE webhooks AS w SET
    url = COALESCE(:url::text, w.url),
    events = COALESCE(:events::text[], w.events),
    description = CASE WHEN :set_description::boolean THEN :description::text ELSE w.description END,
    active = COALESCE(:active::boolean, w.active),
    failures_in_a_row = CASE WHEN :active::boolean AND NOT w.active THEN 0 ELSE w.failures_in_a_row END,
    updated_at = CASE
        WHEN (COALESCE(:url::text, w.url), COALESCE(:events::text[], w.events),
              CASE WHEN :set_description::boolean THEN :description::text ELSE w.description END,
              COALESCE(:active::boolean, w.active))
             IS DISTINCT FROM (w.url, w.events, w.description, w.active)
        THEN now() ELSE w.updated_at
    END
WHERE w.id = :webhook_id AND w.user_id = :user_id
  AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = :user_id AND {{caller}} FOR NO KEY UPDATE)
RETURNING w.id, w.url, w.events, w.description, w.active, w.created_at, w.updated_at
