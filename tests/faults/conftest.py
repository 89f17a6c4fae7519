"""conftest.py of the fault suite (tests/faults/): crash cycles, a full disk and a short soak
against a real parleyd.

The fixtures are the integration suite's (tests/integration/conftest.py: `server`,
`new_server`, `cli`, ...) and its raw protocol client (wire.py), loaded from there so that
both suites start servers the same way.
"""
import importlib.util
import sys
from pathlib import Path

_INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(_INTEGRATION) not in sys.path:
    sys.path.insert(0, str(_INTEGRATION))

_spec = importlib.util.spec_from_file_location("parley_integration_conftest",
                                               _INTEGRATION / "conftest.py")
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("__")})
