"""``python -m corpuslake.mixsearch SEARCH_YAML [--lake L] [--no-resume]``: ``corpuslake search-mixture``
on its own, with the same one-line errors and exit codes."""

import sys

from corpuslake.cli import LAKE_HELP, main
from corpuslake.mixsearch.cli import add_search_parser

if __name__ == "__main__":
    sys.exit(main(["search-mixture", *sys.argv[1:]], more_commands=lambda sub: add_search_parser(sub, LAKE_HELP)))
