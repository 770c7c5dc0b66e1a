"""Facts several boxes must agree on, written once."""

BRIDGE = "br-l2sm"  # the per-node OVS bridge the switch agent makes and the CNI plugin attaches pods to
POD_MTU = 1450  # a pod interface: fits a VXLAN overlay with a network key inside a 1500 underlay
UNDERLAY_MTU = 1600  # a sandbox underlay: the pods' 1450 plus VXLAN and a network key (two tags), with room to spare
