"""A build from an archive: read, chunk, embed, store; here or on a Ray cluster."""
