"""moto's AWS emulator served by waitress instead of werkzeug's development server.

werkzeug answers every request with `Connection: close` and starts a thread per connection,
and logs every request: a client pays a TCP handshake per AWS call and the emulator spends a
fifth of its time on connections and logging. S3 and SQS keep connections alive; so does
waitress, with a fixed pool of threads. The backends are moto's own, in this one process, so
S3 → EventBridge → SQS delivery works as under `moto_server`.

Usage: python moto_keepalive.py -H 127.0.0.1 -p PORT (the arguments `moto_server` takes).
"""

import argparse

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from waitress import serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    serve(app, host=args.host, port=args.port, threads=args.threads, _quiet=True)


if __name__ == "__main__":
    main()
