"""controller box: the os-ken OpenFlow 1.3 app and its REST API (run with `osm-l2sm controller run`).

Other boxes use it through its REST API, with :class:`ControllerClient`, and start it with :class:`ControllerProcess`.
"""
from .client import ControllerClient
from .process import ControllerProcess
from .provider import ProviderClient, member_interface

__all__ = ["ControllerClient", "ControllerProcess", "ProviderClient", "member_interface"]
