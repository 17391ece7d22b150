DROP INDEX tasks_user_pending_due_idx;
-- The SQL function of 0003 again.
CREATE OR REPLACE FUNCTION task_tags_valid(tags text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT cardinality(tags) <= 20
       AND array_ndims(tags) IS NOT DISTINCT FROM (CASE WHEN cardinality(tags) > 0 THEN 1 END)
       AND NOT EXISTS (
           SELECT 1 FROM unnest(tags) AS tag
           WHERE tag IS NULL
              OR char_length(tag) NOT BETWEEN 1 AND 40
              OR tag <> btrim(tag, E'\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000')
              OR tag ~ '[\u0001-\u001F\u007F-\u009F,A-Z]')
       AND cardinality(tags) = (SELECT count(DISTINCT tag) FROM unnest(tags) AS tag)
$$;
