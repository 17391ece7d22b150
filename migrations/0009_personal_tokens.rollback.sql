-- depends: 0006_task_counts
DROP TABLE personal_tokens;
