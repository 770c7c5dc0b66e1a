"""`osm-l2sm demo cdn`: the reference CDN service from its OSM packages to validated traffic on the sandbox."""
from __future__ import annotations

import json
import os
import sys


def register(sub) -> None:
    demo = sub.add_parser("demo", help="run a reference service end to end on the local sandbox")
    demo_sub = demo.add_subparsers(dest="demo", metavar="SERVICE")
    demo_sub.required = True
    cdn = demo_sub.add_parser(
        "cdn", help="the CDN service (content server, router/firewall, cache on two virtual links)",
        description="Plan the CDN service from its OSM packages (descriptors/), start the sandbox if needed, deploy "
        "it as `ns-create --local` does (the virtual links' networks, then the three KNFs as pods from their sandbox "
        "profiles) and validate it as OSM PoC 14 did: ping ttl, traceroute, download with sha256, isolation, "
        "firewall, and the router cut-off mid-download.")
    cdn.add_argument("--rate", default=None, help="download rate limit in curl's form (default: 6M; the PoC used 200k)")
    cdn.add_argument("--size-mib", type=int, default=None, help="size of the generated video file (default: 64)")
    cdn.add_argument("--packages", default=None,
                     help="folder holding the OSM packages (default: the descriptors/ osm-l2sm ships)")
    cdn.add_argument("--sandbox", default=None, help="sandbox name (default: cdn)")
    cdn.add_argument("--nodes", type=int, default=2, help="nodes when the sandbox is started (default: 2)")
    cdn.add_argument("--json", action="store_true", help="print the report as JSON")
    cdn.add_argument("--picture", metavar="FILE",
                     help="where to draw what runs, as SVG (default: pictures/cdn.svg in the sandbox's state folder)")
    cdn.add_argument("--down", action="store_true", help="remove everything the demo made, sandbox included")
    cdn.set_defaults(func=run_cdn)


def run_cdn(args) -> int:
    from osm_l2sm.demo import cdn as demo

    options = {k: v for k, v in (("rate", args.rate), ("size_mib", args.size_mib), ("packages_dir", args.packages),
                                 ("sandbox", args.sandbox)) if v is not None}
    progress = (lambda msg: print(msg, file=sys.stderr, flush=True)) if args.json else \
        (lambda msg: print(msg, flush=True))
    runner = demo.CdnDemo(nodes=args.nodes, progress=progress, **options)
    if args.down:
        runner.down()
        print(f"CDN demo removed (sandbox {runner.sandbox.name})")
        return 0
    report = runner.run()
    picture = _draw(runner.sandbox, args.picture, progress)
    if args.json:
        print(json.dumps(dict(report.to_dict(), picture=picture), indent=2))
    else:
        print()
        print(demo.format_report(report))
        if picture:
            print(f"\nPicture of what runs: {picture}")
        name = runner.sandbox.name
        down = "osm-l2sm demo cdn --down" + ("" if name == demo.DEFAULT_SANDBOX else f" --sandbox {name}")
        print(f"\nExplore it: OSM_L2SM_SANDBOX={name} osm-l2sm pod list; remove it: {down}")
    return 0 if report.ok else 1


def _draw(sandbox, path: str | None, progress) -> str | None:
    """What runs, drawn beside the report (an SVG file); None, and a line saying why, when it cannot be drawn."""
    from osm_l2sm.errors import L2smError
    from osm_l2sm.sandbox import running_view

    from .picture import render, running_dot
    path = path or sandbox.layout.picture("cdn.svg")
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        view = dict(running_view(sandbox), title=f"the CDN service on sandbox {sandbox.name}")
        svg = render(running_dot(view), "svg")
        with open(path, "w") as f:
            f.write(svg)
    except (L2smError, OSError) as err:
        progress(f"no picture: {err}")
        return None
    return os.path.abspath(path)
