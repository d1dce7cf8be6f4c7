"""What users do with search: watches, exports, batches, evaluation."""
