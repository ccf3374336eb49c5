"""The ``sparkglue`` command line."""
