import sys

from osm_l2sm.controller.main import main

sys.exit(main())
