"""``python -m wfe.daemon [--port N] [--listen ADDR]``: the daemon in the foreground."""

import argparse
import sys

from wfe.daemon.server import serve

parser = argparse.ArgumentParser(prog="python -m wfe.daemon")
parser.add_argument("--port", type=int, default=None, help="0 picks a free port")
parser.add_argument("--listen", default=None, metavar="ADDR",
                    help="address to listen on (not loopback: needs TLS or insecure_http)")
args = parser.parse_args()
sys.exit(serve(args.port, args.listen))
