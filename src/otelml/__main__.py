"""``python -m otelml`` runs the command line."""

import sys

from otelml.cli import main

sys.exit(main())
