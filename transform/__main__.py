"""``python -m transform <dbt args>``: dbt with the project's profile, then the build summary."""

import sys

from transform.dbt_runner import main

sys.exit(main())
