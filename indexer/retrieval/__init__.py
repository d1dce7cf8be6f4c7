"""Candidates from a build, whichever backend holds it: the local folder or Milvus."""
