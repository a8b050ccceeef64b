"""The `igsc` command: configuration, publishing, running the pipeline and its servers."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from igsc.errors import ConfigError, IgscError, RejectedInput
from igsc.settings import Settings, load_settings

log = logging.getLogger("igsc")

Handler = Callable[[argparse.Namespace], int]


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from --config, else $IGSC_CONFIG, else defaults; IGSC_* variables win."""
    config = args.config or os.environ.get("IGSC_CONFIG")
    settings = load_settings(config_file=Path(config) if config else None)
    logging.getLogger().setLevel(settings.log_level)
    return settings


def cmd_config_example(args: argparse.Namespace) -> int:
    """Print a complete annotated example configuration."""
    sys.stdout.write((Path(__file__).parent / "config_example.yaml").read_text(encoding="utf-8"))
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    """Validate a configuration file and print a summary."""
    checked = load_settings(config_file=Path(args.file))
    print(
        f"{args.file}: valid; stream={checked.stream_target.split(':')[0]} "
        f"index={checked.index_target.split(':')[0]} state={checked.state_target.split(':')[0]} "
        f"partners={len(checked.partners)}"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the main job end to end on embedded defaults."""
    from igsc.demo import run_demo

    return int(run_demo(settings=settings_from(args), out=sys.stdout))


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish a local bundle file as a configured partner."""
    import orjson

    from igsc.wiring import build_stream
    from ingest.publish import objects_of, publish_objects

    settings = settings_from(args)
    partner = settings.partner(args.partner)
    try:
        document = orjson.loads(Path(args.file).read_bytes())
    except OSError as exc:
        raise ConfigError("FILE", f"cannot read {args.file}: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        print(f"igsc: {args.file} is not valid JSON: {exc}", file=sys.stderr)
        return 1
    stream = build_stream(settings)
    try:
        result = publish_objects(
            settings=settings, stream=stream, partner=partner, objects=objects_of(document)
        )
    finally:
        stream.close()
    print(f"published {result.published} objects as {partner.id}; rejected {result.rejected}")
    return 0 if result.rejected == 0 else 1


def cmd_lookup(args: argparse.Namespace) -> int:
    """Print the indicator document of one observable as typed; 1 if none, 2 if unreadable."""
    import orjson

    from enrich.lookup import candidate_keys, lookup_observable
    from enrich.merged_records import MergedRecords
    from igsc.pipeline_run import enrichers_for
    from igsc.tlp import TLP_BY_NAME
    from igsc.wiring import build_index, build_state

    try:
        candidate_keys(text=args.text)  # refuse bad input before opening (or creating) an index
    except RejectedInput as exc:
        print(f"igsc: cannot look up {args.text!r}: {exc}", file=sys.stderr)
        return 2
    settings = settings_from(args)
    index = build_index(settings)
    state = build_state(settings) if args.from_state else None
    try:
        records = None
        if state is not None:
            records = MergedRecords(state=state, enrichers=enrichers_for(settings))
        clearance = TLP_BY_NAME[args.tlp]
        result = lookup_observable(
            index=index, text=args.text, clearance=clearance, records=records
        )
    finally:
        index.close()
        if state is not None:
            state.close()
    if result.withheld:
        print(f"igsc: {result.key} is marked above TLP:{args.tlp.upper()}", file=sys.stderr)
        return 1
    if result.document is None:
        print(f"igsc: not found: {' or '.join(result.candidates)}", file=sys.stderr)
        return 1
    sys.stdout.write(orjson.dumps(result.document, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Poll every partner once and drain every stage; non-zero if anything failed."""
    from igsc.pipeline_run import run_once

    return run_once(settings=settings_from(args), out=sys.stdout)


def cmd_worker(args: argparse.Namespace) -> int:
    """Run one enrich stage forever (until SIGINT/SIGTERM)."""
    from igsc.pipeline_run import run_worker

    settings = settings_from(args)
    if args.nice:
        # Batch work yields the CPU to interactive reads (searches, lookups) on shared hosts.
        os.nice(args.nice)
    return run_worker(settings=settings, stage=args.stage)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the TAXII 2.1 server until stopped."""
    from ingest.server.app import serve

    settings = settings_from(args)
    if args.config:
        # uvicorn worker processes load the same file through IGSC_CONFIG.
        os.environ["IGSC_CONFIG"] = str(Path(args.config).resolve())
    serve(settings=settings)
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:
    """Read a secret from stdin and print its hash for the config (password or token)."""
    from ingest.server.auth import hash_secret, hash_token

    secret = sys.stdin.readline().rstrip("\n")
    if not secret:
        print("igsc: give the secret on standard input", file=sys.stderr)
        return 2
    print(hash_token(token=secret) if args.token else hash_secret(secret=secret))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="igsc", description=__doc__)
    parser.add_argument("--config", help="YAML config file (default: $IGSC_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    config = sub.add_parser("config", help="print or check configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    config_sub.add_parser("example", help="print an annotated example").set_defaults(
        handler=cmd_config_example
    )
    check = config_sub.add_parser("check", help="validate a config file")
    check.add_argument("file")
    check.set_defaults(handler=cmd_config_check)

    demo = sub.add_parser("demo", help="run the pipeline end to end on embedded defaults")
    demo.set_defaults(handler=cmd_demo)

    publish = sub.add_parser("publish", help="publish a STIX bundle file as a partner")
    publish.add_argument("file")
    publish.add_argument("--partner", required=True, help="a configured partner id")
    publish.set_defaults(handler=cmd_publish)

    lookup = sub.add_parser("lookup", help="print the indicator of an IP, domain, URL, hash...")
    lookup.add_argument("text", help="the observable as written, or a kind|value key")
    lookup.add_argument(
        "--tlp",
        choices=("clear", "green", "amber", "amber+strict", "red"),
        default="green",
        help="the reader's clearance: documents with a source marked above it are withheld",
    )
    lookup.add_argument(
        "--from-state",
        action="store_true",
        help="read the merged record from the dedup state (fresher than the index)",
    )
    lookup.set_defaults(handler=cmd_lookup)

    run = sub.add_parser("run", help="poll every partner and drain every stage")
    run.add_argument("--once", action="store_true", required=True, help="one pass, then exit")
    run.set_defaults(handler=cmd_run)

    serve = sub.add_parser("serve", help="run the TAXII 2.1 server")
    serve.set_defaults(handler=cmd_serve)

    hashing = sub.add_parser("hash-password", help="hash a partner password (or --token)")
    hashing.add_argument("--token", action="store_true", help="hash an API token instead")
    hashing.set_defaults(handler=cmd_hash_password)

    worker = sub.add_parser("worker", help="run one pipeline stage until stopped")
    worker.add_argument(
        "stage",
        choices=("extract", "merge", "index"),
        help="extract and merge are the pipeline (merge indexes); index rebuilds an index "
        "from the indicators topic",
    )
    worker.add_argument(
        "--nice",
        type=int,
        choices=range(20),
        default=0,
        metavar="0-19",
        help="lower this worker's CPU priority, e.g. 10 when Elasticsearch shares the host",
    )
    worker.set_defaults(handler=cmd_worker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `igsc` command."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        handler: Handler = args.handler
        return handler(args)
    except ConfigError as exc:
        print(f"igsc: {exc}", file=sys.stderr)
        return 2
    except IgscError as exc:
        print(f"igsc: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
