"""One module per `codemill` sub-command; each defines register(subparsers)."""
