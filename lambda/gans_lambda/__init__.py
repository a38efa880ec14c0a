"""AWS Lambda entry points of the Gans data platform.

- :mod:`gans_lambda.extract_handler`: extraction (zip package), triggered by
  EventBridge Scheduler;
- :mod:`gans_lambda.transform_handler`: dbt (container image), triggered by the
  extraction's success (Lambda destination) or invoked directly;
- :mod:`gans_lambda.bootstrap_handler`: one-off database bootstrap and migration as
  the RDS master user;
- :mod:`gans_lambda.aws_secrets`: Secrets Manager reads, cached per container.

The package lives in ``lambda/`` (``lambda`` is a Python keyword, so the folder is
not itself importable); the deployment packages put ``gans_lambda`` at the top level.
"""
