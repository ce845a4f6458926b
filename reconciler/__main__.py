"""Allow ``python -m reconciler`` as an alias of the ``mdr`` console script."""

from reconciler.entry import main

raise SystemExit(main())
