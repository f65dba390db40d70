"""``kintsugi run``: the daemon in the foreground until stopped or --duration passes."""

from __future__ import annotations

import argparse

from runtime.cli import _exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the daemon: board → bus → features → controller",
        description=(
            "Run the daemon in the foreground. Prints the bus endpoints on its first line; "
            "stops on Ctrl-C / SIGTERM (a second Ctrl-C forces) or after --duration. "
            "Several hosts (docs/multi-host.md): a hub runs `-c configs/hub.toml --listen "
            "0.0.0.0 --keys DIR`; each sensor host `-c configs/sensor.toml --connect "
            "tcp://HUB:5591 --keys DIR --key-name NAME --person ID`."
        ),
        epilog=(
            "Exit status: 0 stopped (by Ctrl-C, SIGTERM or --duration), 3 start-up failed "
            "(config, bus, board), 130 a second Ctrl-C forced the exit."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("-c", "--config", required=True, help="TOML config (see configs/)")
    parser.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    parser.add_argument("--board", default=None, help="override [source] board")
    parser.add_argument("--serial-port", default=None, help="override [source] serial_port")
    parser.add_argument("--ip-address", default=None, help="override [source] ip_address")
    parser.add_argument("--mac-address", default=None, help="override [source] mac_address")
    parser.add_argument("--file", default=None, help="override [source] file (playback)")
    parser.add_argument("--publish-endpoint", default=None, help="override [bus] endpoint")
    parser.add_argument("--subscribe-endpoint", default=None, help="override [bus] endpoint")
    parser.add_argument(
        "--listen",
        default=None,
        metavar="HOST",
        help="bind the bus on HOST (keeping the ports) instead of loopback; needs --keys",
    )
    parser.add_argument(
        "--keys",
        default=None,
        metavar="DIR",
        help="CURVE keys from `kintsugi keys DIR`: authenticate every bus connection "
        "(sets [bus] keys)",
    )
    parser.add_argument(
        "--key-name",
        default=None,
        metavar="NAME",
        help="the client certificate in --keys this host presents, made by `kintsugi keys "
        "DIR --client NAME` (sets [bus] key_name; default 'client')",
    )
    parser.add_argument(
        "--connect",
        default=None,
        metavar="ENDPOINT",
        help="run as a sensor host: publish to the hub's broker at ENDPOINT "
        "(tcp://HUB:5591), no broker here; sets [bus] connect",
    )
    parser.add_argument(
        "--person",
        default=None,
        metavar="ID",
        help="pseudonymous id (P01) of the person this board is on, carried by every raw "
        "chunk; sets [source] person",
    )
    parser.add_argument(
        "--record",
        default=None,
        metavar="DIR",
        help="record the session into DIR (new or empty); see docs/lab-sessions.md",
    )
    parser.add_argument(
        "--participant",
        default=None,
        metavar="ID",
        help="pseudonymous participant id (P01), stored in the recording; sets [session] "
        "participant (a name-like id is warned about, see docs/participants.md)",
    )
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="WHICH",
        help="start from a saved baseline instead of calibrating: 'current' or a version "
        "of --participant's baselines (`kintsugi baseline list`), or a baseline file",
    )
    parser.add_argument(
        "--root",
        default=None,
        metavar="DIR",
        help="participant store that --baseline reads (default $KINTSUGI_HOME or ~/.kintsugi)",
    )
    parser.add_argument(
        "--lsl",
        action="store_true",
        help="publish raw EEG, heart data, features, control and markers as LSL streams",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from drivers import set_brainflow_logging
    from runtime.config import load_config, with_overrides
    from runtime.daemon import Daemon
    from runtime.participants import apply_session_choice

    config = load_config(args.config)
    config = apply_session_choice(
        config, participant=args.participant, baseline=args.baseline, root=args.root
    )
    config = with_overrides(
        config,
        "source",
        board=args.board,
        serial_port=args.serial_port,
        ip_address=args.ip_address,
        mac_address=args.mac_address,
        file=args.file,
        person=args.person,
    )
    config = with_overrides(
        config,
        "bus",
        publish_endpoint=args.publish_endpoint,
        subscribe_endpoint=args.subscribe_endpoint,
        connect=args.connect,
        keys=args.keys,
        key_name=args.key_name,
    )
    if args.listen and config.bus.connect:
        from runtime.errors import ConfigError

        raise ConfigError(
            f"--listen binds a hub's broker, but [bus] connect = {config.bus.connect!r} makes "
            "this a sensor host, which has none: drop one of them"
        )
    if args.listen:
        config = with_overrides(
            config,
            "bus",
            publish_endpoint=listen_on(config.bus.publish_endpoint, args.listen),
            subscribe_endpoint=listen_on(config.bus.subscribe_endpoint, args.listen),
        )
    keys = None
    if config.bus.keys:
        from runtime.bus import CurveKeys

        keys = CurveKeys.load(config.bus.keys, config.bus.key_name)
    set_brainflow_logging(args.verbose >= 2)
    extra_stages = {}
    if args.record:
        from runtime.recorder import RecorderStage

        extra_stages["recorder"] = RecorderStage(args.record, config)
    if args.lsl:
        from runtime.lsl import LslBridgeStage

        extra_stages["lsl"] = LslBridgeStage(config)
    daemon = Daemon(config, curve=keys, extra_stages=extra_stages, board_rows=bool(args.record))

    def announce(daemon: Daemon) -> None:
        board = config.source.board if "driver" in config.daemon.stages else "none"
        who = f" person={config.source.person}" if config.source.person else ""
        if len(config.all_sources) > 1 and "driver" in config.daemon.stages:
            # several [[sources]]: each person's board
            board = ",".join(f"{s.person}:{s.board}" for s in config.all_sources)
            who = ""
        print(
            f"kintsugi run: board={board} "
            f"publish_endpoint={daemon.publish_endpoint} "
            f"subscribe_endpoint={daemon.subscribe_endpoint} role={daemon.role}" + who,
            flush=True,
        )

    result = daemon.run_until_stopped(args.duration, on_started=announce, name="run")
    cut_short = result.cut_short
    print(
        f"kintsugi run: stopped{' (cut short: ' + ', '.join(cut_short) + ')' if cut_short else ''}"
    )
    return _exit.OK


def listen_on(endpoint: str, host: str) -> str:
    """``endpoint`` with its host replaced by ``host`` (tcp endpoints only)."""
    from runtime.errors import ConfigError

    scheme, _, rest = endpoint.partition("://")
    if scheme != "tcp" or ":" not in rest:
        raise ConfigError(
            f"--listen needs tcp://HOST:PORT endpoints in [bus]; {endpoint!r} is not one"
        )
    port = rest.rsplit(":", 1)[1]
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"tcp://{host}:{port}"
