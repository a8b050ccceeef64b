"""The `igsc` command: configuration, publishing, running the pipeline and its servers."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from igsc.app.cli_settings import settings_from
from igsc.app.respond_cli import add_respond_commands
from igsc.app.stages import STAGES
from igsc.errors import ConfigError, IgscError, RejectedInput
from igsc.settings import InvalidSettings, Settings, load_settings
from igsc.wiring import open_ports

log = logging.getLogger("igsc")

Handler = Callable[[argparse.Namespace], int]
TLP_CHOICES = ("clear", "green", "amber", "amber+strict", "red")


def _fail(message: str) -> int:
    """One line on stderr and the exit status of bad input (2)."""
    print(f"igsc: {message}", file=sys.stderr)
    return 2


def cmd_config_example(args: argparse.Namespace) -> int:
    """Print a complete annotated example configuration."""
    sys.stdout.write((Path(__file__).parent / "config_example.yaml").read_text(encoding="utf-8"))
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    """Validate a configuration file and print a summary; every invalid key, exit 2."""
    try:
        checked = load_settings(config_file=Path(args.file))
    except InvalidSettings as exc:
        for key, problem in exc.problems:
            print(f"igsc: {args.file}: {key}: {problem}", file=sys.stderr)
        print(f"igsc: {args.file}: {len(exc.problems)} invalid setting(s)", file=sys.stderr)
        return 2
    print(
        f"{args.file}: valid; stream={checked.stream_target.split(':')[0]} "
        f"index={checked.index_target.split(':')[0]} state={checked.state_target.split(':')[0]} "
        f"partners={len(checked.partners)}"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the main job end to end on embedded defaults."""
    from igsc.app.demo import run_demo

    return int(run_demo(settings=settings_from(args), out=sys.stdout))


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish a local STIX file (bundle, envelope, list or one object) as a partner."""
    import orjson

    from igsc.app.dead_letters import reasons_summary
    from ingest.publish import objects_of, publish_objects

    path = Path(args.file)
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        return _fail(f"cannot read {args.file}: {exc.strerror}")
    except orjson.JSONDecodeError as exc:
        return _fail(f"{args.file} is not valid JSON: {exc}")
    try:
        objects = objects_of(document)
    except RejectedInput as exc:
        return _fail(f"{args.file}: {exc}")
    settings = settings_from(args)
    known = [p.id for p in settings.partners]
    if args.partner not in known:
        configured = ", ".join(known) if known else "none; add one under `partners:` in --config"
        return _fail(f"no partner {args.partner!r} in the configuration (configured: {configured})")
    partner = settings.partner(args.partner)
    with open_ports(settings) as ports:
        result = publish_objects(
            settings=settings, stream=ports.stream, partner=partner, objects=objects
        )
    noun = "object" if result.published == 1 else "objects"
    print(f"published {result.published} {noun} as {partner.id}; rejected {result.rejected}")
    if result.reasons:
        sys.stdout.write("top reasons:\n" + reasons_summary(result.reasons))
    return 0 if result.rejected == 0 else 1


def cmd_lookup(args: argparse.Namespace) -> int:
    """Print the indicator document of one observable as typed; 1 if none, 2 if unreadable."""
    import orjson

    from enrich.lookup import candidate_keys, lookup_observable
    from enrich.merged_records import MergedRecords
    from enrich.pipeline import enrichers_for
    from igsc.tlp import TLP_BY_NAME
    from respond.exclusions import benign_matches

    try:
        candidate_keys(text=args.text)  # refuse bad input before opening (or creating) an index
    except RejectedInput as exc:
        return _fail(f"cannot look up {args.text!r}: {exc}")
    settings = settings_from(args)
    with open_ports(settings) as ports:
        records = None
        if args.from_state:
            records = MergedRecords(state=ports.state, enrichers=enrichers_for(settings))
        result = lookup_observable(
            index=ports.index,
            text=args.text,
            clearance=TLP_BY_NAME[args.tlp],
            records=records,
            half_life_days=settings.enrich.decay_half_life_days,
        )
        benign = (
            benign_matches(index=ports.index, subject=result.key)
            if result.document is not None and result.key
            else []
        )
    if result.withheld:
        print(f"igsc: {result.key} is marked above TLP:{args.tlp.upper()}", file=sys.stderr)
        return 1
    if result.document is None:
        print(f"igsc: not found: {' or '.join(result.candidates)}", file=sys.stderr)
        return 1
    # Why a value many countries reported opened no incident: the list that matched, per rule.
    shown = {**result.document, "benign": benign} if benign else result.document
    sys.stdout.write(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def cmd_rejected(args: argparse.Namespace) -> int:
    """List the newest rejected and quarantined records, newest last."""
    import orjson

    from igsc.app.dead_letters import read_dead_letters

    settings = settings_from(args)
    with open_ports(settings) as ports:
        letters = read_dead_letters(settings=settings, stream=ports.stream)
    shown = letters[-args.limit :]
    if args.json:
        for letter in shown:
            sys.stdout.write(orjson.dumps(letter.as_dict()).decode() + "\n")
        return 0
    if not letters:
        print("no rejected or quarantined records")
        return 0
    print(f"{len(shown)} of {len(letters)} rejected or quarantined records, newest last:")
    for letter in shown:
        print(
            f"{letter.at or '-':<27} {letter.stage:<8} {letter.partner or '-':<12} "
            f"{letter.stix_id or '-':<50} {letter.reason}"
        )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Poll every partner once and drain every stage; non-zero if anything failed."""
    from igsc.app.run import run_once

    return run_once(settings=settings_from(args), out=sys.stdout)


def cmd_worker(args: argparse.Namespace) -> int:
    """Run one stage forever (until SIGINT/SIGTERM)."""
    from igsc.app.run import run_worker

    settings = settings_from(args)
    if args.nice:
        # Batch work yields the CPU to interactive reads (searches, lookups) on shared hosts.
        os.nice(args.nice)
    return run_worker(settings=settings, stage=args.stage)


def _listening_on(settings: Settings, *, host: str | None, port: int | None) -> Settings:
    """The settings with --host/--port in place of taxii.host/port, validated like the file."""
    from igsc.server_settings import TaxiiServerSettings

    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if not overrides:
        return settings
    try:
        taxii = TaxiiServerSettings.model_validate(settings.taxii.model_dump() | overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"taxii.{first['loc'][0]}", str(first["msg"])) from exc
    return settings.model_copy(update={"taxii": taxii})


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the TAXII 2.1 server until stopped."""
    from ingest.server.app import serve

    settings = _listening_on(settings_from(args), host=args.host, port=args.port)
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
        return _fail("give the secret on standard input")
    print(hash_token(token=secret) if args.token else hash_secret(secret=secret))
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port 1-65535, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    # --config is accepted before or after the subcommand: the subcommands' copy has no
    # default, so it only overrides the top-level one when given.
    config_option = argparse.ArgumentParser(add_help=False)
    config_option.add_argument(
        "--config", default=argparse.SUPPRESS, help="YAML config file (default: $IGSC_CONFIG)"
    )
    parser = argparse.ArgumentParser(prog="igsc", description=__doc__)
    parser.add_argument("--config", help="YAML config file (default: $IGSC_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Handler, *, help: str) -> argparse.ArgumentParser:
        made = sub.add_parser(name, parents=[config_option], help=help)
        made.set_defaults(handler=handler)
        return made

    config = sub.add_parser("config", help="print or check configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    config_sub.add_parser(
        "example", parents=[config_option], help="print an annotated example"
    ).set_defaults(handler=cmd_config_example)
    check = config_sub.add_parser(
        "check", parents=[config_option], help="validate a config file, naming every bad key"
    )
    check.add_argument("file")
    check.set_defaults(handler=cmd_config_check)

    command("demo", cmd_demo, help="run the pipeline end to end on embedded defaults")

    publish = command(
        "publish", cmd_publish, help="publish a STIX bundle, list or single object as a partner"
    )
    publish.add_argument("file")
    publish.add_argument("--partner", required=True, help="a configured partner id")

    lookup = command(
        "lookup", cmd_lookup, help="print the indicator of an IP, domain, URL, hash..."
    )
    lookup.add_argument("text", help="the observable as written, or a kind|value key")
    lookup.add_argument(
        "--tlp",
        choices=TLP_CHOICES,
        default="green",
        help="the reader's clearance: documents with a source marked above it are withheld",
    )
    lookup.add_argument(
        "--from-state",
        action="store_true",
        help="read the merged record from the dedup state (fresher than the index)",
    )

    rejected = command(
        "rejected", cmd_rejected, help="list rejected and quarantined records, newest last"
    )
    rejected.add_argument("--json", action="store_true", help="one JSON object per line")
    rejected.add_argument(
        "--limit", type=_positive, default=50, help="how many of the newest (default 50)"
    )

    run = command("run", cmd_run, help="poll every partner and drain every stage")
    run.add_argument("--once", action="store_true", required=True, help="one pass, then exit")

    serve = command("serve", cmd_serve, help="run the TAXII 2.1 server")
    serve.add_argument("--host", help="listen address (default: taxii.host)")
    serve.add_argument("--port", type=_port, help="listen port (default: taxii.port)")

    hashing = command(
        "hash-password", cmd_hash_password, help="hash a partner password (or --token)"
    )
    hashing.add_argument("--token", action="store_true", help="hash an API token instead")

    worker = command("worker", cmd_worker, help="run one pipeline stage until stopped")
    worker.add_argument(
        "stage",
        choices=[spec.name for spec in STAGES],
        help="; ".join(f"{spec.name}: {spec.summary}" for spec in STAGES),
    )
    worker.add_argument(
        "--nice",
        type=int,
        choices=range(20),
        default=0,
        metavar="0-19",
        help="lower this worker's CPU priority, e.g. 10 when Elasticsearch shares the host",
    )

    add_respond_commands(sub, parents=[config_option])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `igsc` command."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Libraries' per-request and per-task lines (Elasticsearch transport, in-process Celery
    # tasks) drown what igsc itself reports; their warnings still show.
    for chatty in ("elastic_transport", "celery", "kombu"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        handler: Handler = args.handler
        return handler(args)
    except ConfigError as exc:
        return _fail(str(exc))
    except IgscError as exc:
        print(f"igsc: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
