import sys

from streamscribe.cli import main

sys.exit(main())
