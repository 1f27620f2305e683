"""``python3 -m clhsim_analysis COMMAND ...`` (with analysis/ on PYTHONPATH)."""
import sys

from .cli import main

sys.exit(main())
