-- depends: 0008_time
DROP TRIGGER tasks_52_webhook_deleted ON tasks;
DROP TRIGGER tasks_51_webhook_updated ON tasks;
DROP TRIGGER tasks_50_webhook_inserted ON tasks;
DROP FUNCTION tasks_webhook_events();
DROP FUNCTION webhook_enqueue(text, text, jsonb);
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
