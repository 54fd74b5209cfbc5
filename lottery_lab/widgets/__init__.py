"""ipywidgets explorers, one module per area: thin layers over the library and its plots."""
