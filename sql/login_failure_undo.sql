-- Take back the failure login_attempt.sql counted for an attempt that was not a failure after
-- all (no hashing slot came free; the right password of an inactive account).
UPDATE login_failures SET failures = failures - 1
WHERE subject = :subject AND address = :address AND failures > 0
