"""CNI conformance, side by side with the reference ``bridge`` plugin: the same cases through ``cnitool`` (libcni,
with result caching, capabilities and chained conflists) and, for the error cases, the plugin executed directly as
a runtime does. Every case counts veths, OVS ports, controller ports and namespaces before and after.

Both plugins run in a sandbox node's netns; bridge uses its own Linux bridge and the ``static`` IPAM for the ``ips``
capability. Each runs at the highest CNI version it supports (Debian's bridge and tuning stop at 1.0.0, where libcni
neither calls STATUS nor GC). Only our plugin's outcomes are asserted; bridge's are the reference column of the
printed table (also written to $CNI_CONFORMANCE_TABLE when set).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from osm_l2sm.cni.runtime import SOCKET_ENV, cni_path
from osm_l2sm.sandbox import netns
from tests.cni.conftest import leftovers
from tests.conftest import unavailable

REFERENCE_DIR = "/usr/lib/cni"
TUNING_MAC = "02:11:22:33:44:55"
HIGHEST = {"bridge": "1.0.0", "l2sm": "1.1.0"}
ROWS: list[tuple[str, str, str, str]] = []


def plugin_conf(kind: str, version: str) -> dict:
    if kind == "bridge":
        return {"cniVersion": version, "name": "ref", "type": "bridge", "bridge": "cnibr0",
                "ipam": {"type": "static"}, "capabilities": {"ips": True}}
    return {"cniVersion": version, "name": "blue", "type": "l2sm-cni", "network": "blue",
            "capabilities": {"ips": True}}


@pytest.fixture(scope="module")
def tools(sb, plugin_binary, tmp_path_factory):
    cnitool = shutil.which("cnitool", path=os.pathsep.join(cni_path()))
    if not cnitool or not os.path.exists(os.path.join(REFERENCE_DIR, "bridge")):
        unavailable("needs cnitool (scripts/build-cni-plugin) and the bridge plugin "
                    "(apt install containernetworking-plugins)")
    confdir = tmp_path_factory.mktemp("netconf")
    for kind in ("bridge", "l2sm"):
        for version in ("0.3.1", "0.4.0", "1.0.0", HIGHEST[kind]):
            plugin = plugin_conf(kind, version)
            lists = {f"{kind}-{version}": [plugin]}
            if version == "1.0.0":  # tuning's highest
                lists[f"{kind}-tuning"] = [plugin_conf(kind, version), {"type": "tuning", "mac": TUNING_MAC}]
            for name, plugins in lists.items():
                for p in plugins:
                    p.pop("cniVersion", None)
                    p.pop("name", None)
                (confdir / f"{name}.conflist").write_text(json.dumps(
                    {"cniVersion": version, "name": name, "plugins": plugins}))
    env = {"PATH": os.environ["PATH"], "NETCONFPATH": str(confdir), "CNI_IFNAME": "net1",
           "CNI_PATH": os.pathsep.join([os.path.dirname(plugin_binary), REFERENCE_DIR]),
           SOCKET_ENV: sb.layout.cni_socket("node1")}
    yield {"cnitool": cnitool, "env": env, "plugins": {"bridge": os.path.join(REFERENCE_DIR, "bridge"),
                                                        "l2sm": plugin_binary}}
    print_table()


def print_table() -> None:
    if not ROWS:
        return
    width = max(len(r[0]) for r in ROWS)
    lines = [f"{'case':<{width}} | {'expected':<8} | {'bridge':<13} | l2sm-cni",
             f"{'-' * width}-+-{'-' * 8}-+-{'-' * 13}-+-{'-' * 13}"]
    lines += [f"{c:<{width}} | {e:<8} | {b:<13} | {o}" for c, e, b, o in ROWS]
    text = "\n".join(lines)
    out = os.environ.get("CNI_CONFORMANCE_TABLE")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print("\n" + text)


@pytest.fixture
def pods(sb):
    made = []

    def make(name: str) -> str:
        ns = sb.layout.pod_netns(name)
        netns.create(ns)
        made.append(ns)
        return ns
    yield make
    for ns in made:
        netns.remove(ns)


def cnitool(sb, tools, verb: str, netconf: str, pod_ns: str, ips: list[str] | None = None) -> tuple[int, str]:
    env = dict(tools["env"])
    if ips:
        env["CAP_ARGS"] = json.dumps({"ips": ips})
    proc = subprocess.run(netns.argv(sb.layout.node_netns("node1"),
                                     [tools["cnitool"], verb, netconf, netns.path(pod_ns)]),
                          env=env, capture_output=True, text=True)
    return proc.returncode, proc.stdout if proc.returncode == 0 else proc.stderr


def direct(sb, tools, kind: str, command: str, conf, pod_ns: str | None, drop=(), netns_path=None) -> str:
    """Run the plugin as a runtime does; 'ok' or 'code N'."""
    env = {**tools["env"], "CNI_COMMAND": command, "CNI_CONTAINERID": f"direct-{kind}",
           "CNI_NETNS": netns_path or (netns.path(pod_ns) if pod_ns else "")}
    for key in drop:
        env.pop(key)
    stdin = conf if isinstance(conf, str) else json.dumps(conf)
    proc = subprocess.run(netns.argv(sb.layout.node_netns("node1"), [tools["plugins"][kind]]), input=stdin,
                          env=env, capture_output=True, text=True)
    if proc.returncode == 0:
        return "ok"
    try:
        return f"code {json.loads(proc.stdout)['code']}"
    except (ValueError, KeyError):
        return f"exit {proc.returncode}"


def addr_mac(pod_ns: str) -> tuple[str, str]:
    out = netns.run(pod_ns, ["ip", "-j", "addr", "show", "net1"]).stdout
    link = json.loads(out)[0] if out.strip() else {}
    addrs = " ".join(f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []))
    return addrs, link.get("address", "")


def flow(sb, tools, pods, kind: str) -> dict[str, str]:
    """The life cycle through libcni; each step's outcome, 'ok' or 'error', plus the checks of its effect."""
    out = {}
    pod = pods(f"cf-{kind}")

    def step(name, verb, netconf, ips=None, effect=None):
        status, text = cnitool(sb, tools, verb, netconf, pod, ips)
        outcome = "ok" if status == 0 else "error"
        if os.environ.get("CNI_CONFORMANCE_DEBUG") and status:
            print(kind, name, text.strip())
        if status == 0 and effect is not None and not effect(text):
            outcome = "wrong"
        out[name] = outcome
        return text

    base = leftovers(sb)
    top = f"{kind}-{HIGHEST[kind]}"
    step("ADD (ips capability)", "add", top, ["10.30.0.20/24"], lambda _: "10.30.0.20/24" in addr_mac(pod)[0])
    step("CHECK after ADD", "check", top)
    step("STATUS", "status", top)
    netns.run(pod, ["ip", "addr", "flush", "dev", "net1"])
    step("CHECK, IP removed", "check", top)
    step("DEL", "del", top, effect=lambda _: leftovers(sb) == base)
    step("DEL again", "del", top)
    step("ADD again", "add", top, ["10.30.0.21/24"])
    netns.run(pod, ["ip", "link", "set", "net1", "address", "02:de:ad:be:ef:01"])
    step("CHECK, MAC changed", "check", top)
    step("GC, no valid attachments: removed", "gc", top, effect=lambda _: leftovers(sb) == base)
    cnitool(sb, tools, "del", top, pod)  # what GC left (bridge at 1.0.0 has no GC)
    step("chained tuning mac: ADD", "add", f"{kind}-tuning", ["10.30.0.22/24"],
         lambda _: addr_mac(pod)[1] == TUNING_MAC)
    step("chained tuning mac: CHECK", "check", f"{kind}-tuning")
    step("chained tuning mac: DEL", "del", f"{kind}-tuning", effect=lambda _: leftovers(sb) == base)
    for version in ("0.4.0", "0.3.1"):
        step(f"ADD {version}: ips[].version", "add", f"{kind}-{version}", ["10.30.0.23/24"],
             lambda text: [ip.get("version") for ip in json.loads(text)["ips"]] == ["4"])
        if version == "0.4.0":
            step("CHECK 0.4.0", "check", f"{kind}-{version}")
        step(f"DEL {version}", "del", f"{kind}-{version}", effect=lambda _: leftovers(sb) == base)
    return out


FLOW_EXPECTED = {"CHECK, IP removed": "error", "CHECK, MAC changed": "error"}


def test_life_cycle_through_libcni_matches_bridge(sb, tools, pods):
    ref, ours = flow(sb, tools, pods, "bridge"), flow(sb, tools, pods, "l2sm")
    for case, outcome in ours.items():
        ROWS.append((case, FLOW_EXPECTED.get(case, "ok"), ref.get(case, "-"), outcome))
    assert ours == {case: FLOW_EXPECTED.get(case, "ok") for case in ours}


def conf(kind: str, version: str | None = None, **extra) -> dict:
    return {**plugin_conf(kind, version or HIGHEST[kind]), **extra}


ERRORS = [
    ("VERSION", "ok", lambda k: ("VERSION", "", {})),
    ("STATUS with a 1.0.0 config", "code 1", lambda k: ("STATUS", conf(k, "1.0.0"), {})),
    ("ADD without CNI_NETNS", "code 4", lambda k: ("ADD", conf(k), {"drop": ("CNI_NETNS",)})),
    ("ADD, CNI_NETNS a regular file", "code 3", lambda k: ("ADD", conf(k), {"netns_path": "/etc/hostname"})),
    ("ADD, config not JSON", "code 6", lambda k: ("ADD", '{"cniVersion": "1.1.0", "name"', {})),
    ("ADD, cniVersion 9.9.9", "code 1", lambda k: ("ADD", conf(k, "9.9.9"), {})),
    ("ADD, ipam section", "code 7", lambda k: ("ADD", conf(k, ipam={"type": "nosuch"}), {})),
    ("ADD, runtimeConfig a list", "code 7", lambda k: ("ADD", conf(k, runtimeConfig=[]), {})),
    ("ADD, args a string", "code 7", lambda k: ("ADD", conf(k, args="x"), {})),
    ("ADD, ips not IP/PREFIX", "code 7", lambda k: ("ADD", conf(k, runtimeConfig={"ips": ["10.30.0.300"]}), {})),
    ("CHECK without prevResult", "code 7", lambda k: ("CHECK", conf(k), {})),
    ("CHECK with a 0.3.1 config", "code 1", lambda k: ("CHECK", conf(k, "0.3.1"), {})),
    ("DEL of an unknown container", "ok", lambda k: ("DEL", conf(k), {})),
    ("GC, nothing to collect", "ok", lambda k: ("GC", conf(k), {})),
]


@pytest.mark.parametrize("case, expected, make", ERRORS, ids=[e[0] for e in ERRORS])
def test_direct_cases_match_the_spec_and_leak_nothing(sb, tools, pods, case, expected, make):
    outcomes = {}
    for kind in ("bridge", "l2sm"):
        pod = pods(f"ce-{kind}")
        command, netconf, kwargs = make(kind)
        before = leftovers(sb)
        outcome = direct(sb, tools, kind, command, netconf, pod, **kwargs)
        if leftovers(sb) != before:
            outcome += " LEAK"
        outcomes[kind] = outcome
    ROWS.append((case, expected, outcomes["bridge"], outcomes["l2sm"]))
    assert outcomes["l2sm"] == expected
