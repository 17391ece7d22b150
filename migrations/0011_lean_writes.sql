-- depends: 0010_events
-- A leaner write path (issue 23), every guarantee kept; each step measured with
-- `python -m bench.statements` (README, Performance).

-- The tags rule of 0003, the same rule in PL/pgSQL: the SQL function, with its subqueries, could
-- not be inlined into the CHECK and was planned again on every INSERT and UPDATE of a task, tags
-- changed or not (about 130 µs a write); PL/pgSQL keeps its plans, and an empty array answers
-- at once.
CREATE OR REPLACE FUNCTION task_tags_valid(tags text[]) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    n integer := cardinality(tags);
    i integer;
    tag text;
BEGIN
    IF n = 0 THEN
        RETURN array_ndims(tags) IS NULL;
    END IF;
    IF n > 20 OR array_ndims(tags) <> 1 THEN
        RETURN false;
    END IF;
    FOR i IN array_lower(tags, 1) .. array_upper(tags, 1) LOOP
        tag := tags[i];
        IF tag IS NULL
           OR char_length(tag) NOT BETWEEN 1 AND 40
           OR tag <> btrim(tag, E'\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000')
           OR tag ~ '[\u0001-\u001F\u007F-\u009F,A-Z]'
           OR tag = ANY (tags[array_lower(tags, 1) : i - 1])
        THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END;
$$;

-- `overdue=true`'s count (docs/api.md, "Totals of large filtered lists"): the pending tasks
-- with a due date before today, found in this index alone (an index-only scan, up to 10,001 of
-- them) instead of by reading the user's rows: at 100,000 tasks, 26 ms became about 2.5 ms.
-- Partial, so completed tasks (whose writes never match it) cost it nothing.
CREATE INDEX tasks_user_pending_due_idx ON tasks (user_id, due_date, due_at) WHERE NOT completed;
