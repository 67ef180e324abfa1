"""What drives the engine: the live host and its audio outputs, the offline renderer, the terminal UI."""
