-- Why a statement acting for the caller found nothing: no row when the user does not exist;
-- may_act is false when the caller rule refuses them.
SELECT u.is_active, {{caller}} AS may_act FROM users AS u WHERE u.id = :user_id
