"""``python -m wfe.daemon [--port N] [--listen ADDR] [--database URL]``: the daemon in the
foreground."""

import argparse
import sys

from wfe.daemon.server import serve

parser = argparse.ArgumentParser(prog="python -m wfe.daemon")
parser.add_argument("--port", type=int, default=None, help="0 picks a free port")
parser.add_argument("--listen", default=None, metavar="ADDR",
                    help="address to listen on (not loopback: needs TLS or insecure_http)")
parser.add_argument("--database", default=None, metavar="URL",
                    help="sqlite:///PATH or postgresql://... (default: WFE_DATABASE_URL)")
args = parser.parse_args()
sys.exit(serve(args.port, args.listen, args.database))
