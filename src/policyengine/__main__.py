"""`python -m policyengine …` runs the command line."""

import sys

from policyengine.cli import main

sys.exit(main())
