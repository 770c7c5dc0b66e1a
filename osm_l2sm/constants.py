"""Facts several boxes must agree on, written once."""

BRIDGE = "br-l2sm"  # the per-node OVS bridge the switch agent makes and the CNI plugin attaches pods to
POD_MTU = 1442  # a pod interface: a 1500 underlay less VXLAN (50) and the network key's two VLAN tags (8)
UNDERLAY_MTU = 1600  # a sandbox underlay: the pods' 1442 plus VXLAN and a network key (two tags), with room to spare
