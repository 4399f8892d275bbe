"""Task output: storing chunks (deduplicated, fenced, capped), relaying them live, reading them back."""
