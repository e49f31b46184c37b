"""`python -m checker grade | merge | report | gradescope | classroom` (see checker/grading/cli.py)."""
import sys

from checker.grading.cli import main

if __name__ == "__main__":
    sys.exit(main())
