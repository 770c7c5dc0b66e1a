"""osm-l2sm: isolated link-layer networks for ETSI OSM network services on Kubernetes."""

__version__ = "0.1.0"
