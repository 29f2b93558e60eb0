"""`python -m bench [--quick] [--json PATH] [--only NAME,...]`."""

import sys

from bench.runner import main

sys.exit(main())
