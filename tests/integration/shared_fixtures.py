"""shared_fixtures.py: lets the other pytest suites (tests/abuse/, tests/faults/) use this
suite's fixtures (conftest.py: `server`, `new_server`, `cli`, ...) and its raw protocol client
(wire.py), so that every suite starts servers the same way. A suite's conftest.py puts this
directory on sys.path and calls export_into(globals())."""
import importlib.util
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def export_into(namespace):
    """Loads this suite's conftest.py and copies its public names into `namespace`."""
    spec = importlib.util.spec_from_file_location("parley_integration_conftest",
                                                  _HERE / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    namespace.update({k: v for k, v in vars(mod).items() if not k.startswith("__")})
