"""The transform step: the dbt project (``dbt_project/``) run in-process, and a summary of a build.

:mod:`transform.dbt_runner` holds :func:`~transform.dbt_runner.run_dbt` (used by the CLI, the
transform Lambda and the tests) and :func:`~transform.dbt_runner.summarize`. Not part of the
extract Lambda's zip: only the transform image ships it.
"""
