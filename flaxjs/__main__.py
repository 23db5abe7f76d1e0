"""``python -m flaxjs`` = the ``flaxjs`` command."""

from .cli import main

raise SystemExit(main())
