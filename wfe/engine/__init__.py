"""The pure core of wfe: no I/O, no event loop, no database.

It decides (the next state, whether a template is valid, what an expression renders to);
the daemon does (SQL, processes, HTTP).
"""
