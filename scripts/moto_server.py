"""Run moto server on a loopback port for spa's tests and demo.

Prints the port it listens on as the first line of standard output, then serves
until its standard input closes (the parent process ended) or it gets SIGTERM, so
that no emulator outlives the test binary or the demo that started it.

    python scripts/moto_server.py [PORT]    # PORT 0 (default) picks a free port
"""

import signal
import sys
import threading

from moto.server import ThreadedMotoServer


def main() -> int:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    _, bound = server.get_host_and_port()
    print(bound, flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    def wait_for_eof() -> None:
        sys.stdin.read()
        done.set()

    if not sys.stdin.isatty():
        threading.Thread(target=wait_for_eof, daemon=True).start()
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
