-- depends: 0008_time
DROP TABLE personal_tokens;
