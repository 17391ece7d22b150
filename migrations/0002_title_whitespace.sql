-- depends: 0001_users_and_tasks
-- A title is stored trimmed. The old CHECK wrote its white space as E' \t\n\r\f\v', but
-- PostgreSQL's escape strings have no \v: it was a plain v, so titles starting or ending with a
-- lowercase v were refused. The set here is exactly what the API trims: Unicode White_Space
-- (what pydantic's strip_whitespace removes), tests/test_schema_rules.py holds the two together.
ALTER TABLE tasks DROP CONSTRAINT tasks_title_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_title_check CHECK (
    char_length(title) BETWEEN 1 AND 200
    AND title = btrim(title, E'\u0009\u000A\u000B\u000C\u000D\u0020\u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000')
);
