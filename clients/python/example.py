#!/usr/bin/python3
"""Store an org secret and run a job with it, from Python.

Uses only the code generated from proto/ (clients/python/gen), grpcio and PyNaCl:

  1. KeyManagementService.GetOrgPublicKey   the org's X25519 public key and its key_id
  2. seal the value on this machine          crypto_box_seal (PyNaCl SealedBox)
  3. SecretService.CreateSecret              only the sealed box goes over the wire
  4. JobService.CreateJob                    the secret injected as $MY_KEY
  5. JobService.GetJob until the job ends, then JobService.StreamJobLogs
     (the server masks the value as *** in the log)

Connection settings come from --credentials FILE (the credentials.json that
`vessl-secrets up` writes to its data dir: endpoint, org and the admin token), or else
from VESSL_ENDPOINT, VESSL_ORG and VESSL_TOKEN (an admin token: creating secrets is
admin-only).

    /usr/bin/python3 clients/python/example.py --credentials .vessl/credentials.json MY_SECRET < value.txt
    printf %s "$VALUE" | VESSL_ENDPOINT=127.0.0.1:50051 VESSL_ORG=acme VESSL_TOKEN=... \\
        /usr/bin/python3 clients/python/example.py MY_SECRET

Exit status: 0 when the job succeeded; 1 on a failed call (one line on stderr: the gRPC
status code and message) or when the job did not succeed; 2 on bad usage.
"""

import argparse
import getpass
import json
import os
import re
import sys
import time

# The generated code imports its siblings as `from vessl.jobs.v1 import jobs_pb2`:
# clients/python/gen is the import root. It holds generated code only (`make
# checkgenerate` compares it with a fresh generation), so write no __pycache__ there.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

import grpc  # noqa: E402
import nacl.public  # noqa: E402

from google.rpc import error_details_pb2, status_pb2  # noqa: E402
from vessl.jobs.v1 import jobs_pb2, jobs_pb2_grpc  # noqa: E402
from vessl.kms.v1 import kms_pb2, kms_pb2_grpc  # noqa: E402
from vessl.secrets.v1 import secrets_pb2, secrets_pb2_grpc  # noqa: E402

# The environment variable the job reads the secret from (`--secret MY_KEY=NAME`).
JOB_ENV_NAME = "MY_KEY"
JOB_COMMAND = 'echo "from python: $MY_KEY ${#MY_KEY}"'
TERMINAL_STATES = (
    jobs_pb2.Job.STATE_SUCCEEDED,
    jobs_pb2.Job.STATE_FAILED,
    jobs_pb2.Job.STATE_CANCELLED,
)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CALL_TIMEOUT_SECONDS = 30


class UsageError(Exception):
    """Bad arguments or settings: exit 2."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Create an org secret (sealed on this machine) and run a job that uses it.",
    )
    parser.add_argument("name", metavar="NAME", help="secret name, e.g. HF_TOKEN")
    parser.add_argument(
        "--key",
        help="the secret's default env-var name (default: NAME, when NAME is a valid env-var name)",
    )
    parser.add_argument(
        "--value",
        help="the value (discouraged: shell history); default: read stdin byte for byte until EOF",
    )
    parser.add_argument(
        "--credentials",
        metavar="FILE",
        help="credentials.json from `vessl-secrets up` (instead of VESSL_ENDPOINT, VESSL_ORG, VESSL_TOKEN)",
    )
    parser.add_argument(
        "--ca-file",
        default=os.environ.get("VESSL_CA_FILE"),
        help="PEM CA bundle for a TLS endpoint (default: $VESSL_CA_FILE, else the system roots)",
    )
    parser.add_argument(
        "--job-timeout", type=float, default=60.0, help="seconds to wait for the job to end (default 60)"
    )
    return parser.parse_args(argv)


def connection_settings(args):
    """(endpoint, org, token) from --credentials, else from the environment."""
    if args.credentials:
        try:
            with open(args.credentials, encoding="utf-8") as f:
                creds = json.load(f)
            return creds["endpoint"], creds["org"], creds["tokens"]["admin"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise UsageError(f"cannot read endpoint, org and tokens.admin from {args.credentials}: {err}")
    settings = [os.environ.get(v, "") for v in ("VESSL_ENDPOINT", "VESSL_ORG", "VESSL_TOKEN")]
    if not all(settings):
        raise UsageError("pass --credentials FILE, or set VESSL_ENDPOINT, VESSL_ORG and VESSL_TOKEN")
    return tuple(settings)


def read_value(args):
    """The plaintext as bytes, exactly as given (no newline added or stripped)."""
    if args.value is not None:
        value = args.value.encode("utf-8")
    elif sys.stdin.isatty():
        value = getpass.getpass(f"value for {args.name} (not echoed): ").encode("utf-8")
    else:
        value = sys.stdin.buffer.read()
    if not value:
        raise UsageError("the value is empty: a secret value needs at least 1 byte")
    return value


def is_loopback(endpoint):
    host = endpoint.rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or re.match(r"^127\.\d+\.\d+\.\d+$", host) is not None


def open_channel(endpoint, ca_file):
    """Plaintext on loopback only (as the server allows); TLS everywhere else."""
    if is_loopback(endpoint) and not ca_file:
        return grpc.insecure_channel(endpoint)
    root_certificates = None
    if ca_file:
        with open(ca_file, "rb") as f:
            root_certificates = f.read()
    return grpc.secure_channel(endpoint, grpc.ssl_channel_credentials(root_certificates))


def describe_rpc_error(err):
    """One line: the status code, the message and, from google.rpc.ErrorInfo, the reason."""
    line = f"{err.code().name}: {err.details()}"
    for key, raw in err.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(raw)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                if info.reason and info.reason != err.code().name:
                    line += f" (reason: {info.reason})"
    return line


def call_options(token):
    """What every call carries: the bearer token, and a deadline."""
    return {"metadata": [("authorization", "Bearer " + token)], "timeout": CALL_TIMEOUT_SECONDS}


def create_secret(kms, secrets, org, name, key, value, call):
    """Seals `value` for the org on this machine and stores it as secret `name`; returns its metadata."""
    # 1. The org public key. Send its key_id with the sealed value: if the org key is
    # rotated in between, CreateSecret fails with FAILED_PRECONDITION (reason
    # ORG_KEY_STALE), and a client should fetch the key again and retry once.
    org_key = kms.GetOrgPublicKey(kms_pb2.GetOrgPublicKeyRequest(org=org), **call)
    print(f"org {org}: public key {org_key.key_id} ({org_key.algorithm})")

    # 2. Seal on this machine: only the org's private key (held by key-management)
    # can open it. The plaintext never goes over the wire.
    sealed_box = nacl.public.SealedBox(nacl.public.PublicKey(org_key.public_key)).encrypt(value)

    # 3. Store it. The response is metadata only: no call ever returns a value.
    secret = secrets.CreateSecret(
        secrets_pb2.CreateSecretRequest(
            org=org,
            secret=secrets_pb2.Secret(name=name, key=key),
            value=secrets_pb2.SealedValue(sealed_box=sealed_box, key_id=org_key.key_id),
        ),
        **call,
    )
    print(f"created secret {secret.name} (key {secret.key}, version {secret.version}, uid {secret.uid})")
    return secret


def run(args):
    endpoint, org, token = connection_settings(args)
    key = args.key or args.name
    if not ENV_NAME.match(key):
        raise UsageError(f'"{args.name}" is not an env-var name: pass --key KEY')
    value = read_value(args)
    call = call_options(token)

    with open_channel(endpoint, args.ca_file) as channel:
        kms = kms_pb2_grpc.KeyManagementServiceStub(channel)
        secrets = secrets_pb2_grpc.SecretServiceStub(channel)
        jobs = jobs_pb2_grpc.JobServiceStub(channel)

        secret = create_secret(kms, secrets, org, args.name, key, value, call)
        del value

        # 4. A job with the secret injected as $MY_KEY (the local backend runs the command
        # with /bin/sh on the server's host; a Kubernetes backend in the image).
        created = jobs.CreateJob(
            jobs_pb2.CreateJobRequest(
                org=org,
                job=jobs_pb2.Job(
                    name="python-example",
                    image="python:3.12",
                    command=JOB_COMMAND,
                    secrets=[jobs_pb2.SecretReference(secret_name=secret.name, env_name=JOB_ENV_NAME)],
                ),
            ),
            **call,
        )
        for warning in created.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        job = created.job
        print(f"created job {job.id} ({job.name}): {JOB_COMMAND}")

        # 5. Wait for the job to end, then print its log (secret values masked as ***).
        deadline = time.monotonic() + args.job_timeout
        while job.state not in TERMINAL_STATES:
            if time.monotonic() > deadline:
                print(f"error: job {job.id} did not end within {args.job_timeout:g} s", file=sys.stderr)
                return 1
            time.sleep(0.2)
            job = jobs.GetJob(jobs_pb2.GetJobRequest(org=org, id=job.id), **call)
        attempt = job.attempts[-1] if job.attempts else None
        exit_code = attempt.exit_code if attempt is not None and attempt.HasField("exit_code") else None
        print(f"job {job.id}: {jobs_pb2.Job.State.Name(job.state)} (exit code {exit_code})")

        log = b"".join(
            chunk.data for chunk in jobs.StreamJobLogs(jobs_pb2.StreamJobLogsRequest(org=org, id=job.id), **call)
        ).decode("utf-8", errors="replace")
        print("--- log ---")
        print(log, end="" if log.endswith("\n") or not log else "\n")
        print("--- end of log ---")
        return 0 if job.state == jobs_pb2.Job.STATE_SUCCEEDED else 1


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except grpc.RpcError as err:
        print(f"error: {describe_rpc_error(err)}", file=sys.stderr)
        return 1
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
