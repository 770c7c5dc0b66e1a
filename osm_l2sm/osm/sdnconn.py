"""Stand-in for ``osm_ro_plugin.sdnconn`` when OSM's RO plugin package is not installed.

Same names and contract as RO's base (ETSI OSM RO-plugin): RO constructs a connector as ``Cls(wim, wim_account,
config)`` and reads ``SdnConnectorError.http_code`` (404 on delete means "already deleted").
"""
from __future__ import annotations

import logging

try:  # pragma: no cover - only where OSM's RO is installed
    from osm_ro_plugin.sdnconn import SdnConnectorBase, SdnConnectorError  # noqa: F401
except ImportError:

    class SdnConnectorError(Exception):
        """A failure of an SDN connector; ``http_code`` tells RO what kind."""

        def __init__(self, message: str, http_code: int = 500):
            super().__init__(message)
            self.http_code = http_code

    class SdnConnectorBase:
        """The contract RO expects from an SDN plugin; subclasses implement every method."""

        def __init__(self, wim: dict, wim_account: dict, config: dict | None = None, logger=None):
            self.logger = logger or logging.getLogger("ro.sdn")
            self.wim = wim
            self.wim_account = wim_account
            self.config = config or {}
            self.service_endpoint_mapping = self.config.get("service_endpoint_mapping", [])

        def check_credentials(self):
            raise NotImplementedError

        def get_connectivity_service_status(self, service_uuid, conn_info=None):
            raise NotImplementedError

        def create_connectivity_service(self, service_type, connection_points, **kwargs):
            raise NotImplementedError

        def delete_connectivity_service(self, service_uuid, conn_info=None):
            raise NotImplementedError

        def edit_connectivity_service(self, service_uuid, conn_info=None, connection_points=None, **kwargs):
            raise NotImplementedError

        def clear_all_connectivity_services(self):
            raise NotImplementedError

        def get_all_active_connectivity_services(self):
            raise NotImplementedError
