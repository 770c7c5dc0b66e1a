"""`osm-l2sm` sub-commands of the data plane: `controller run`, `switch up|cert|down|daemon`."""
from __future__ import annotations


def register(sub) -> None:
    """Add this area's sub-commands to the top-level parser."""
    from osm_l2sm.controller.main import add_arguments

    controller = sub.add_parser("controller", help="the OpenFlow controller with its REST API")
    csub = controller.add_subparsers(dest="controller_command", metavar="ACTION")
    csub.required = True
    run_parser = csub.add_parser("run", help="run the controller in the foreground (logs to stderr)")
    add_arguments(run_parser)
    run_parser.set_defaults(func=_run_controller)

    from osm_l2sm.cni.cli import register as register_cni_daemon
    from osm_l2sm.switch.cli import register as register_switch
    register_cni_daemon(register_switch(sub))


def _run_controller(args) -> int:
    import logging

    from osm_l2sm.controller.main import run

    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
    return run(args)
