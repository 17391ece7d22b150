-- depends: 0014_series_ahead
DROP INDEX tasks_user_list_created_idx;
