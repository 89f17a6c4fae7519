"""conftest.py of the fault suite (tests/faults/): crash cycles, a full disk and a short soak
against a real parleyd. Its fixtures are the integration suite's
(tests/integration/shared_fixtures.py).
"""
import sys
from pathlib import Path

_INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(_INTEGRATION) not in sys.path:
    sys.path.insert(0, str(_INTEGRATION))

import shared_fixtures  # noqa: E402

shared_fixtures.export_into(globals())
