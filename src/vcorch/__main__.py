from vcorch.cli import main

raise SystemExit(main())
