"""Reading an archive: the walk over its files, each file's bytes, and the formats."""
