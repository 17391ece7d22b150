-- depends: 0004_sync
DROP TABLE login_failures;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DELETE FROM users WHERE external;
ALTER TABLE users DROP CONSTRAINT users_credentials_check;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
ALTER TABLE users ALTER COLUMN hashed_password SET NOT NULL;
ALTER TABLE users DROP COLUMN external;
ALTER TABLE users DROP COLUMN name;
