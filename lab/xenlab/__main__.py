from xenlab.cli import main

raise SystemExit(main())
