"""Milvus as a backend: the client, the build it serves, and the upload of a build."""
