from voicesim.cli import main

raise SystemExit(main())
