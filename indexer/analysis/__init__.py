"""What the build finds across articles: copies, threads, entities, languages."""
