-- The failure count of a throttling :subject from :address, cleared: what a right password does
-- (a login, in session_start.sql; a password confirmation, in login_success.sql). A CTE body.
DELETE FROM login_failures WHERE subject = :subject::text AND address = :address::text
RETURNING subject
