"""CSP: context-smoothed pre-training of a flow-matching action-chunk policy."""
