"""``ray start`` that keeps 127.0.0.1 as the node's address (the test cluster's nodes; tests/test_cluster.py).

Ray swaps a loopback ``--node-ip-address`` / ``--address`` for the machine's network address ("so other machines can
reach it"); the test cluster must stay on the loopback interface, so this launcher keeps the address as given."""

import sys

from ray._private import services
from ray.scripts.scripts import main

services.resolve_ip_for_localhost = lambda host: host

if __name__ == "__main__":
    sys.exit(main())
