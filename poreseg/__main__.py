"""``python -m poreseg``: see poreseg.cli."""
import sys

from poreseg.cli import main

if __name__ == "__main__":
    sys.exit(main())
