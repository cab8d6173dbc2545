-- PostgreSQL's migration of this name drops the foreign keys of the rows a send writes; SQLite
-- checks foreign keys in-process, cheaply, and keeps them (kept so that both backends list the
-- same migrations).
SELECT 1;
