"""wfe: a durable workflow engine for one machine."""

__version__ = "0.1.0"
API_VERSION = "1"
