"""Vision-language-action policies whose prefix embeddings are the context CSP smooths."""
