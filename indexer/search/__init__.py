"""A question answered: ranking, the page of results, answers, timelines, facets."""
