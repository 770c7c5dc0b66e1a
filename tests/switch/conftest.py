"""The switch tests run on the sandbox's nodes: the same sandbox fixture as tests/sandbox (one per module)."""
from tests.sandbox.conftest import sandbox  # noqa: F401  (a fixture)
