"""``python -m corpuslake.mixsearch SEARCH_YAML [--lake L] [--no-resume]``: ``corpuslake search-mixture``."""

import sys

from corpuslake.cli import main

if __name__ == "__main__":
    sys.exit(main(["search-mixture", *sys.argv[1:]]))
