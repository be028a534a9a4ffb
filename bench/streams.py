"""N concurrent real-time streams against streamscribe: ``python bench/streams.py --sessions 1 2 4 8``.

Same as ``streamscribe bench``; see ``streamscribe.bench`` for what each column measures.
"""

import sys

from streamscribe.bench import main

sys.exit(main())
