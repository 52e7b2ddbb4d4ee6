"""Browser tests: a real headless Chromium on a page served from one origin, calling an API that a localcloud
serves from another. They reuse the localcloud tests' session fixtures (``cloud``, ``aws``)."""

from tests.localcloud.conftest import aws, cloud  # noqa: F401  (fixtures)
