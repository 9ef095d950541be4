"""Delta Lake tables: schemas, paths, Spark sessions and the SQL catalog."""
