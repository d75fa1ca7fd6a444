"""``python -m wfe.daemon [--port N]``: the daemon in the foreground."""

import argparse
import sys

from wfe.daemon.server import serve

parser = argparse.ArgumentParser(prog="python -m wfe.daemon")
parser.add_argument("--port", type=int, default=None, help="0 picks a free port")
sys.exit(serve(parser.parse_args().port))
