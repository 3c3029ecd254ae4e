"""``python -m deviceflow`` runs the command-line interface."""

from deviceflow.cli import main

raise SystemExit(main())
