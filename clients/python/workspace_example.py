#!/usr/bin/python3
"""Store an org secret, mount it as a file in a workspace, and run a command there, from Python.

Uses the code generated from proto/ (clients/python/gen), grpcio and PyNaCl, and the helpers of
example.py (settings, sealing, errors):

  1. seal the value and SecretService.CreateSecret      as example.py does
  2. WorkspaceService.CreateWorkspace                   the secret as a read-only file at --path
  3. WorkspaceService.GetWorkspace until it runs
  4. WorkspaceService.ExecWorkspace                     a bidirectional stream: the start message,
     stdin bytes and end of input go up; stdout and stderr (masked) and the exit status come down
  5. WorkspaceService.DeleteWorkspace                   always, once it was created

    /usr/bin/python3 clients/python/workspace_example.py --credentials .vessl/credentials.json MY_SECRET < value.txt

Exit status: 0 when every call succeeded (whatever the command's own exit code, which it
prints); 1 on a failed call (one line on stderr: the gRPC status code and message) or when the
workspace did not start; 2 on bad usage.
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True  # example.py sits beside this file; write no __pycache__ here

import example  # noqa: E402  (puts clients/python/gen on sys.path)
import grpc  # noqa: E402

from vessl.jobs.v1 import jobs_pb2, workspaces_pb2, workspaces_pb2_grpc  # noqa: E402
from vessl.kms.v1 import kms_pb2_grpc  # noqa: E402
from vessl.secrets.v1 import secrets_pb2_grpc  # noqa: E402

# Reads the file (its size, and its content: the server masks it as ***), reads a line of
# stdin, and ends with status 3, which the exit message carries.
COMMAND = 'echo "file: $(wc -c < "$1") bytes"; cat "$1"; echo; read line; echo "stdin: $line"; echo "to stderr" >&2; exit 3'
STDIN = b"hello from python\n"
Workspace = workspaces_pb2.Workspace


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Create an org secret, mount it as a file in a workspace and run a command there.")
    parser.add_argument("name", metavar="NAME", help="secret name, e.g. gcp-sa-key")
    parser.add_argument("--key", help="the secret's env-var name (default: NAME when it is a valid env-var name, else EXAMPLE_FILE)")
    parser.add_argument("--value", help="the value (discouraged: shell history); default: read stdin byte for byte until EOF")
    parser.add_argument("--credentials", metavar="FILE", help="credentials.json from `vessl-secrets up`")
    parser.add_argument("--ca-file", default=os.environ.get("VESSL_CA_FILE"), help="PEM CA bundle for a TLS endpoint")
    parser.add_argument("--workspace", default="python-example", help="workspace name (default python-example)")
    parser.add_argument("--path", help="where the file is mounted (default /run/secrets/NAME)")
    parser.add_argument("--start-timeout", type=float, default=60.0, help="seconds to wait for the workspace to run (default 60)")
    return parser.parse_args(argv)


def wait_until_running(workspaces, org, name, timeout, call):
    deadline = time.monotonic() + timeout
    while True:
        workspace = workspaces.GetWorkspace(workspaces_pb2.GetWorkspaceRequest(org=org, name=name), **call)
        if workspace.state == Workspace.STATE_RUNNING:
            return workspace
        if workspace.state in (Workspace.STATE_STOPPED, Workspace.STATE_FAILED) or time.monotonic() > deadline:
            raise RuntimeError(f"workspace {name} is {Workspace.State.Name(workspace.state)}: {workspace.message or 'it did not start in time'}")
        time.sleep(0.2)


def exec_requests(org, name, command):
    """What goes up the stream: start first, then stdin, then the end of input."""
    yield workspaces_pb2.ExecWorkspaceRequest(start=workspaces_pb2.ExecStart(org=org, name=name, command=command))
    yield workspaces_pb2.ExecWorkspaceRequest(stdin=STDIN)
    yield workspaces_pb2.ExecWorkspaceRequest(close_stdin=True)


def run_in_workspace(workspaces, org, name, command, metadata):
    """Relays the command's output as it comes and returns its exit code (no deadline: it runs as long as it runs)."""
    code = None
    sys.stdout.flush()  # what print() holds goes out before the raw bytes below
    for response in workspaces.ExecWorkspace(exec_requests(org, name, command), metadata=metadata):
        kind = response.WhichOneof("kind")
        if kind == "stdout":
            sys.stdout.buffer.write(response.stdout)
        elif kind == "stderr":
            sys.stderr.buffer.write(response.stderr)
        elif kind == "exit":
            code = response.exit.code
    sys.stdout.flush()
    if code is None:
        raise RuntimeError("the exec ended without an exit status")
    return code


def run(args):
    endpoint, org, token = example.connection_settings(args)
    key = args.key or (args.name if example.ENV_NAME.match(args.name) else "EXAMPLE_FILE")
    path = args.path or f"/run/secrets/{args.name}"
    value = example.read_value(args)
    call = example.call_options(token)

    with example.open_channel(endpoint, args.ca_file) as channel:
        kms = kms_pb2_grpc.KeyManagementServiceStub(channel)
        secrets = secrets_pb2_grpc.SecretServiceStub(channel)
        workspaces = workspaces_pb2_grpc.WorkspaceServiceStub(channel)

        secret = example.create_secret(kms, secrets, org, args.name, key, value, call)
        del value

        created = workspaces.CreateWorkspace(
            workspaces_pb2.CreateWorkspaceRequest(
                org=org,
                workspace=Workspace(
                    name=args.workspace,
                    image="python:3.12",
                    secrets=[jobs_pb2.SecretReference(secret_name=secret.name, file_path=path)],
                ),
            ),
            **call,
        )
        for warning in created.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"created workspace {created.workspace.name} ({created.workspace.id}) with {secret.name} at {path}")
        try:
            wait_until_running(workspaces, org, args.workspace, args.start_timeout, call)
            print(f"--- exec: sh -c '...' with {path} ---")
            code = run_in_workspace(workspaces, org, args.workspace, ["sh", "-c", COMMAND, "sh", path], call["metadata"])
            print(f"--- exec exit code {code} ---")
        finally:
            workspaces.DeleteWorkspace(workspaces_pb2.DeleteWorkspaceRequest(org=org, name=args.workspace), **call)
            print(f"deleted workspace {args.workspace}")
        return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except grpc.RpcError as err:
        print(f"error: {example.describe_rpc_error(err)}", file=sys.stderr)
        return 1
    except example.UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
