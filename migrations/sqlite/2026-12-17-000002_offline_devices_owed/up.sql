-- PostgreSQL's migration of this name gives its devices function an `owed` column; SQLite's
-- devices check is a query of its own (kept so that both backends list the same migrations).
SELECT 1;
