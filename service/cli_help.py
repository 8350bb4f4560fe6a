"""`python run.py --help`: the commands and the environment variables, beside argparse's options."""

from __future__ import annotations

import textwrap

COMMANDS = """commands:
  serve           (the default) run the service: Ray, the stock shards, the web app (dashboard and
                  REST API), the webhook ingress and the partner connectors, until Ctrl-C or SIGTERM
  check           prove, on a stopped or running store, that every stock row equals the fold of the
                  ledger (exit 1 and the mismatches if not)
  rotate-secrets  with the service stopped: seal the partner secrets with a new key
  worker          a web worker, started by serve itself when THREADCOUNT_WEB_WORKERS is over 1
"""

ENVIRONMENT = [  # README's Configuration table, in short
    ("THREADCOUNT_DATABASE_URL", "sqlite+aiosqlite:///PATH or postgresql+asyncpg://user@host/db "
                                 "(default: DATA_DIR/threadcount.db)"),
    ("THREADCOUNT_DATA_DIR", "the SQLite file, generated secrets and logs/ (default ./data)"),
    ("THREADCOUNT_WEB_PORT", "the REST API's and dashboard's port (default 8000)"),
    ("THREADCOUNT_WEB_WORKERS", "processes serving the web port together, 1-32 (default 1)"),
    ("THREADCOUNT_INGRESS_PORT", "the partner webhook port (default 8001)"),
    ("THREADCOUNT_WEB_HOST", "the address the web port binds (default 127.0.0.1; 0.0.0.0: every "
                            "interface, as in a container)"),
    ("THREADCOUNT_INGRESS_HOST", "the address the webhook ingress binds (default 127.0.0.1)"),
    ("THREADCOUNT_DEMO", "1: seed the demo catalog and start the partner simulators; 0: start empty"),
    ("THREADCOUNT_ADMIN_TOKEN", "the REST API's bearer token (default: generated into DATA_DIR/admin_token)"),
    ("THREADCOUNT_ADMIN_PASSWORD", "the dashboard user admin's password (default: DATA_DIR/admin_password)"),
    ("THREADCOUNT_SECRET_KEY", "the key sealing partner secrets, newest first "
                               "(default: DATA_DIR/secret.key)"),
    ("THREADCOUNT_SECRET_KEY_PREVIOUS", "older keys still read while rotating"),
    ("THREADCOUNT_SHOPPERS", "0: the demo simulators' shoppers stay still (default 1)"),
    ("THREADCOUNT_RAY_ADDRESS", "local (an embedded Ray, the default) or a cluster address / auto"),
    ("THREADCOUNT_SHARDS", "the number of stock shard actors (default: the CPU count; in a cluster, "
                           "the cluster's CPU total)"),
    ("THREADCOUNT_CALL_TIMEOUT", "seconds a call to a stock shard may take before the request gets 503 "
                                 "(default 3)"),
    ("THREADCOUNT_TLS_CERT", "PEM certificate (chain): HTTPS only on both ports, with THREADCOUNT_TLS_KEY"),
    ("THREADCOUNT_TLS_KEY", "the certificate's PEM key"),
    ("THREADCOUNT_FORWARDED_ALLOW_IPS", "proxies whose X-Forwarded-For/-Proto are believed "
                                        "(default 127.0.0.1)"),
    ("THREADCOUNT_CLIENT_TIMEOUT", "seconds a client gets for its headers and each body read (default 10)"),
    ("THREADCOUNT_LOG_FORMAT", "text (the default) or json: one JSON object a line, in DATA_DIR/logs/ and "
                               "on stderr"),
    ("THREADCOUNT_SMTP_URL", "alert e-mail: smtp://[user:pass@]host:port (?starttls=1) or smtps://... "
                             "(default: none; the demo runs its own mail server)"),
    ("THREADCOUNT_NOTIFY_EMAIL", "comma-separated addresses that receive every alert"),
    ("THREADCOUNT_SMS_URL", "alert texts through a Twilio-compatible API, with THREADCOUNT_SMS_ACCOUNT, "
                            "THREADCOUNT_SMS_TOKEN and THREADCOUNT_SMS_FROM (all four together)"),
    ("THREADCOUNT_NOTIFY_SMS", "comma-separated numbers (+E.164) that receive every alert"),
    ("RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH", "Ray's token (default: generated into DATA_DIR/ray_auth_token)"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "traces go there over OTLP/HTTP (the other standard OTEL_* variables "
                                    "apply; default: no traces)"),
]


def help_epilog() -> str:
    width = max(len(name) for name, _ in ENVIRONMENT)
    variables = "\n".join(
        textwrap.fill(meaning, 100, initial_indent=f"  {name.ljust(width)}  ",
                      subsequent_indent=" " * (width + 4))
        for name, meaning in ENVIRONMENT)
    codes = textwrap.fill("exit codes: 0 stopped cleanly, or the check passed; 1 start-up failed, or the "
                          "check found mismatches; 2 bad configuration or a busy port", 100)
    heading = "environment variables (over config.yaml; README.md tells more):"
    return f"{COMMANDS}\n{heading}\n{variables}\n\n{codes}"
