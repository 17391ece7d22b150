-- A right password confirmed (PUT /api/auth/password, PATCH and DELETE /api/auth/me): the
-- account's count from this address is cleared, as a login clears it.
WITH cleared AS {{login_cleared}}
SELECT count(*) AS cleared FROM cleared
