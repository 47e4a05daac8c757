import sys

from kubectl_aksdoctor.cli import main

sys.exit(main())
