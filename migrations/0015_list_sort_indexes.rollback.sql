-- depends: 0013_webhooks
DROP INDEX tasks_user_list_created_idx;
