"""cni box: the node daemon behind the ``l2sm-cni`` plugin (whose Go source is in ``cni/`` at the top)."""
