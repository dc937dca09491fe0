import sys

from dataigm.errors import INTERRUPTED

try:
    from dataigm.cli import main
except KeyboardInterrupt:  # Ctrl-C while the CLI is still being imported
    print(INTERRUPTED, file=sys.stderr)
    sys.exit(130)

sys.exit(main())
