import sys

from osm_l2sm.cli import main

sys.exit(main())
