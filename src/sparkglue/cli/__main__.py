"""``python -m sparkglue.cli``: the same as the ``sparkglue`` command."""

from sparkglue.cli.main import main

main()
