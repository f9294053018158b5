"""One module per page (or small group of pages) of the web UI; each exposes ``routes()``."""
