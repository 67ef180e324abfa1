"""Notes from the plugin, ready to play: requests, generation, preparation, the cache, the worker process."""
