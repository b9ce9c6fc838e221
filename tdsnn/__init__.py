"""The ``tdsnn`` command: one entry point over golden, behavioral and rtl."""
