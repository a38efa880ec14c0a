"""`make bench`: throughput, end-to-end time, incremental cost, memory and Lambda start-up of the pipeline.

Run with ``python -m bench.run [--quick]``; see :mod:`bench.run`. Workloads are generated
from the real recordings in ``../shared/recordings`` by :mod:`bench.workloads` into the
git-ignored ``bench/work`` folder; results go to the git-ignored ``bench/results``.
"""
