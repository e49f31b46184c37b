"""`python -m checker grade | merge | gradescope | classroom` (see checker/grading/cli.py)."""
import sys

from checker.grading.cli import main

if __name__ == "__main__":
    sys.exit(main())
