-- A process stopping gives back the deliveries it claimed and did not finish, so another
-- process (or its successor) attempts them at once instead of when the claims run out.
UPDATE webhook_deliveries AS d SET claimed_until = NULL, claim = NULL
WHERE d.claim = :claim AND d.status = 'pending'
