"""Settings for the plugin's own tests."""

from __future__ import annotations

import os
import tempfile

# pytester's in-process runs restore sys.modules afterwards; extension modules
# cannot be imported twice in one process, so import them once up front.
import llama_cpp  # noqa: F401
import numpy  # noqa: F401
import sqlglot  # noqa: F401

from pytest_gptoss.checkers.mermaid import DIR_ENV, mermaid_directory

# Keep what the plugin caches (the tiny model) out of the user's home.
os.environ.setdefault("GPTOSS_CACHE_HOME", tempfile.mkdtemp(prefix="gptoss-tests-"))
# Generate for real in every test; the response cache's own tests turn it on.
os.environ.setdefault("GPTOSS_NO_CACHE", "1")
# pytester points HOME at each test's own directory; keep finding the mermaid
# that is installed under the real home.
os.environ.setdefault(DIR_ENV, str(mermaid_directory()))
