"""Browser tests: a real headless Chromium on a page served from one origin, calling an API that a localcloud
serves from another. The session's localcloud (``cloud``, ``aws``) comes from ``tests/conftest.py``."""
