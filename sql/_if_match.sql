-- A write's If-Match check, in the same statement as the write (so of two requests with one
-- If-Match, one wins): :if_match NULL is unconditional, else the versions it accepts.
(:if_match::int[] IS NULL OR t.version = ANY (:if_match::int[]))
