-- Change the caller's username, name (:set_name says whether it was given; NULL clears it),
-- email and time zone (NULL :username, :email or :time_zone: left alone). updated_at moves only
-- when a value changes.
-- No row when the caller may not act; a taken email or username raises unique_violation.
UPDATE users AS u SET
    username = coalesce(:username::text, u.username),
    name = CASE WHEN :set_name::boolean THEN :name::text ELSE u.name END,
    email = coalesce(:email::text, u.email),
    time_zone = coalesce(:time_zone::text, u.time_zone),
    updated_at = CASE
        WHEN (coalesce(:username::text, u.username),
              CASE WHEN :set_name::boolean THEN :name::text ELSE u.name END,
              coalesce(:email::text, u.email))
             IS DISTINCT FROM (u.username, u.name, u.email)
             OR coalesce(:time_zone::text, u.time_zone) <> u.time_zone
        THEN now() ELSE u.updated_at END
WHERE u.id = :user_id AND {{caller}}
RETURNING u.id, u.email, u.username, u.name, u.is_active, u.created_at, u.updated_at
        , u.time_zone
