"""matplotlib figures used by notebooks, the book and the CLI, one module per area."""
