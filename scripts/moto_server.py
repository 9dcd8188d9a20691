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


def accept_projects_without_source() -> None:
    """CodeBuild takes a NO_SOURCE project with an inline buildspec and no location
    (spa's projects); moto 5.2 insists on a location for every source type. Relax
    that one check, for NO_SOURCE only, so the emulator holds what AWS holds."""
    import moto.codebuild.responses as codebuild

    strict = codebuild._validate_required_params_source

    def validate(source):
        if source.get("type") == "NO_SOURCE":
            return None
        return strict(source)

    codebuild._validate_required_params_source = validate


# The AWS-managed policies spa attaches (the CodeBuild role of the member footprint).
MANAGED_POLICIES = ("AdministratorAccess",)


def hold_the_managed_policies_spa_attaches() -> None:
    """AWS has its managed policies in every account; moto loads none by default, or
    all of them (about a second per account it creates) with
    MOTO_IAM_LOAD_MANAGED_POLICIES. Load the few spa attaches, in every account."""
    import json

    import moto.iam.models as iam
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data = json.loads(aws_managed_policies_data)
    wanted = {name: data[name] for name in MANAGED_POLICIES if name in data}

    def init_aws_policies(backend):
        return [
            iam.AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, d)
            for name, d in wanted.items()
        ]

    iam.IAMBackend._init_aws_policies = init_aws_policies


def main() -> int:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    accept_projects_without_source()
    hold_the_managed_policies_spa_attaches()
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
