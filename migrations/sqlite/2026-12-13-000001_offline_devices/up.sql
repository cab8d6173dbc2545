-- PostgreSQL's migration of this name keeps a plan in a function; SQLite plans in-process and
-- needs nothing (kept so that both backends list the same migrations).
SELECT 1;
