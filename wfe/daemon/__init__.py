"""Everything that runs in the daemon process."""
