"""A build's files: the folder, its manifest, vectors, keyword indexes, SQLite."""
