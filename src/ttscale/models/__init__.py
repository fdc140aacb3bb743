"""Models: building the embedded default and resolving paths or hub ids offline."""
