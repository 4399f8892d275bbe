import sys

from schedctl.commands import main

sys.exit(main())
