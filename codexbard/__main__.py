"""Run the CLI as `python -m codexbard`."""

from codexbard.cli import main

raise SystemExit(main())
