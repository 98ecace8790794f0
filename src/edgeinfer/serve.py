"""``python -m edgeinfer.serve MODEL [MODEL ...] [--port 8080] ...``: serve models over the Open
Inference Protocol (KServe v2) with KServe's ModelServer.

Each model is opened with ``edgeinfer.load`` (the same devices, backends, fallback and warm-up
as in a program) and served at ``http://HOST:PORT/v2/models/NAME`` (NAME: the file's stem, or
``--name`` for one model): metadata, readiness (following ``Model.health()``), ``infer`` (JSON
or the binary tensor extension), and ``/metrics`` with the models' latency, fallback and health
figures. It listens on loopback unless ``--host`` says otherwise; ``--ssl-certfile`` and
``--ssl-keyfile`` serve HTTPS. Needs ``pip install 'edgeinfer[serve]'``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m edgeinfer.serve",
        description="Serve a model over the Open Inference Protocol (KServe v2).",
        allow_abbrev=False,
    )
    parser.add_argument(
        "model", nargs="+", help="model file, folder of variants, or URL (as for load())"
    )
    parser.add_argument("--name", help="name on the endpoint path, for one model (its stem)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument("--port", type=int, default=8080, help="HTTP port (8080)")
    parser.add_argument("--grpc-port", type=int, help="also serve gRPC on this port")
    parser.add_argument("--device", default="auto", help="device or comma-separated chain")
    parser.add_argument("--backend", help="backend or comma-separated chain to pin")
    parser.add_argument("--threads", type=int, help="intra-op threads")
    parser.add_argument("--options", help="per-backend options as JSON, as load(options=...)")
    parser.add_argument(
        "--health-interval", type=float, default=10.0, help="seconds between health checks"
    )
    parser.add_argument("--no-metrics", action="store_true", help="leave /metrics to KServe")
    parser.add_argument("--ssl-certfile", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--ssl-keyfile", help="and this private key (PEM)")
    return parser


def _chain(text: str | None) -> str | list[str] | None:
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    return parts[0] if len(parts) == 1 else parts


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.name and len(args.model) > 1:
        parser.error("--name names one model; several are served under their file stems")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import edgeinfer

    try:
        from edgeinfer.serving import serve
    except ImportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    models: dict[str, edgeinfer.Model] = {}
    try:
        options = json.loads(args.options) if args.options else None
        for given in args.model:
            model = edgeinfer.load(
                given,
                device=_chain(args.device) or "auto",
                backend=_chain(args.backend),
                threads=args.threads,
                options=options,
            )
            models[args.name or Path(model.path).stem] = model
            print(model.explain(), flush=True)
        serve(
            models,
            host=args.host,
            port=args.port,
            grpc_port=args.grpc_port,
            health_interval=args.health_interval,
            metrics=not args.no_metrics,
            ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile,
        )
    except (edgeinfer.EdgeInferError, FileNotFoundError, json.JSONDecodeError) as error:
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        for model in models.values():
            model.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
