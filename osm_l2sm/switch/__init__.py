"""switch box: a node's Open vSwitch (its own daemons when asked), bridge, tunnels and ports; the node agent.

Public functions for the other boxes (the CNI plugin plugs ports, the sandbox builds nodes with them).
"""
from .agent import (DomainLinks, add_domain_links, add_tunnel, connect_controller, domain_link_name, register,
                    start_switch, switch_down, switch_up)
from .bridge import (add_port, del_port, ensure_bridge, ensure_ssl, ensure_tunnel, pair_vni, port_names, remove_bridge,
                     remove_tunnel, tunnel_name)
from .ovs import OvsInstance, kernel_datapath_available
from .peers import set_peers
from .registration import register_again

__all__ = ["add_domain_links", "add_port", "add_tunnel", "connect_controller", "del_port", "domain_link_name",
           "DomainLinks", "ensure_bridge", "ensure_ssl", "ensure_tunnel", "kernel_datapath_available",
           "OvsInstance", "pair_vni", "port_names", "register", "register_again", "remove_bridge", "remove_tunnel", "set_peers", "start_switch",
           "switch_down", "switch_up", "tunnel_name"]
