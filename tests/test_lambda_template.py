"""The SAM template (lambda/template.yaml): cfn-lint clean, schedules, targets, DLQ, least-privilege IAM.

The template is read with cfn-lint's own decoder (it understands !Ref, !Sub, !GetAtt, ...),
so the assertions see the same structure CloudFormation does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cfnlint.api import lint
from cfnlint.decode import decode

from extract.sources import REGISTRY, SOURCES

TEMPLATE = Path(__file__).resolve().parent.parent / "lambda" / "template.yaml"
PACKAGE_SH = TEMPLATE.parent / "package.sh"


@pytest.fixture(scope="module")
def template() -> dict:
    decoded, errors = decode(str(TEMPLATE))
    assert not errors, errors
    return decoded


def _resources(template: dict, kind: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _extraction_schedules(template: dict) -> dict[str, dict]:
    """The schedules that start an extraction (the fan-out state machine); the GBFS retention is apart."""
    schedules = _resources(template, "AWS::Scheduler::Schedule")
    return {n: s for n, s in schedules.items() if _refers_to(s["Properties"]["Target"]["Arn"], "ExtractStateMachine")}


def _refers_to(value, name: str) -> bool:
    """True when the intrinsic ``value`` is a Ref/GetAtt (or !Sub) of resource ``name``."""
    if isinstance(value, dict):
        if value.get("Ref") == name:
            return True
        getatt = value.get("Fn::GetAtt")
        if getatt is not None:
            target = getatt[0] if isinstance(getatt, list) else str(getatt).split(".")[0]
            return target == name
        sub = value.get("Fn::Sub")
        if sub is not None:
            text = sub if isinstance(sub, str) else sub[0]
            return "${" + name + "}" in text or "${" + name + "." in text
    return False


def test_cfn_lint_is_clean():
    matches = lint(TEMPLATE.read_text(), regions=["eu-central-1"])
    assert [str(m) for m in matches] == []


def test_transform_is_sam(template):
    assert template["Transform"] == "AWS::Serverless-2016-10-31"


def _cadence_hours(expression: str) -> float:
    """Hours between two runs of an EventBridge Scheduler ``rate(...)`` or ``cron(...)`` expression (the
    longest gap for a monthly cron: 31 days)."""
    kind, _, body = expression.rstrip(")").partition("(")
    if kind == "rate":
        count, unit = body.split()
        return int(count) * {"minute": 1 / 60, "hour": 1, "day": 24}[unit.rstrip("s")]
    _minute, hour, day_of_month, _month, day_of_week, _year = body.split()
    if day_of_month not in ("*", "?"):
        return 31 * 24
    if day_of_week not in ("*", "?"):
        return 7 * 24
    if hour == "*":
        return 1
    return int(hour[2:]) if hour.startswith("*/") else 24


def test_schedules_cover_every_source_with_their_cadence(template):
    """One extraction schedule per registered source, its expression the declared one (a template
    parameter defaulting to it, e.g. GBFS's rate, counts as the same)."""
    seen = {}
    for schedule in _extraction_schedules(template).values():
        target_input = json.loads(schedule["Properties"]["Target"]["Input"]["Fn::Sub"])
        expression = schedule["Properties"]["ScheduleExpression"]
        if isinstance(expression, dict):
            expression = template["Parameters"][expression["Ref"]]["Default"]
        seen[tuple(target_input["sources"])] = expression
    assert seen == {(name,): source.schedule for name, source in REGISTRY.items()}
    for (name,), expression in seen.items():
        assert expression.startswith(("cron(", "rate(")), (name, expression)
        assert _cadence_hours(expression) > 0, name


def test_schedules_run_in_berlin_time_with_retries_and_dead_letter_queue(template):
    schedules = _extraction_schedules(template)
    assert len(schedules) == len(SOURCES)  # one per source
    # every schedule is one of these: an extraction, or the GBFS retention (its own test below)
    assert set(_resources(template, "AWS::Scheduler::Schedule")) == set(schedules) | {"GbfsRetentionSchedule"}
    for name, schedule in schedules.items():
        props = schedule["Properties"]
        assert props["ScheduleExpressionTimezone"] == "Europe/Berlin", name
        target = props["Target"]
        assert _refers_to(target["Arn"], "ExtractStateMachine"), name  # the fan-out, see test_fanout_template
        assert _refers_to(target["RoleArn"], "SchedulerFanoutRole"), name
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1, name
        assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 60, name
        assert _refers_to(target["DeadLetterConfig"]["Arn"], "DeadLetterQueue"), name
        assert template["Resources"]["DeadLetterQueue"]["Type"] == "AWS::SQS::Queue"


def test_schedule_inputs_carry_the_scheduler_context_and_a_transform(template):
    for name, schedule in _extraction_schedules(template).items():
        text = schedule["Properties"]["Target"]["Input"]["Fn::Sub"]
        payload = json.loads(text)
        assert payload["scheduled_time"] == "<aws.scheduler.scheduled-time>", name
        assert payload["execution_id"] == "<aws.scheduler.execution-id>", name
        assert payload["schedule"].startswith("${AWS::StackName}-"), name
        source_table = REGISTRY[payload["sources"][0]].landing_table
        assert f"source:gans_raw.{source_table}+" in payload["transform"]["select"].split(), name
    flights = _extraction_schedules(template)["FlightsSchedule"]
    assert json.loads(flights["Properties"]["Target"]["Input"]["Fn::Sub"])["window"] == "coming_day"


def test_transform_follows_a_successful_extraction_and_failures_are_dead_lettered(template):
    functions = _resources(template, "AWS::Serverless::Function")
    extract_cfg = functions["ExtractFunction"]["Properties"]["EventInvokeConfig"]
    assert _refers_to(extract_cfg["DestinationConfig"]["OnSuccess"]["Destination"], "TransformFunction")
    assert extract_cfg["DestinationConfig"]["OnSuccess"]["Type"] == "Lambda"
    for name in ("ExtractFunction", "TransformFunction"):
        on_failure = functions[name]["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
        assert on_failure["Type"] == "SQS"
        assert _refers_to(on_failure["Destination"], "DeadLetterQueue")


def test_functions_shape(template):
    functions = _resources(template, "AWS::Serverless::Function")
    extract_fn = functions["ExtractFunction"]["Properties"]
    assert extract_fn["Handler"] == "gans_lambda.extract_handler.handler"
    # a supported managed runtime, the one lambda/package.sh builds the zip's wheels for
    package_python = re.search(r"EXTRACT_PYTHON=\$\{EXTRACT_PYTHON:-([0-9.]+)\}", PACKAGE_SH.read_text()).group(1)
    assert extract_fn["Runtime"] == f"python{package_python}"
    assert tuple(int(p) for p in package_python.split(".")) >= (3, 12)
    assert functions["BootstrapFunction"]["Properties"]["Runtime"] == extract_fn["Runtime"]  # same zip
    transform_fn = functions["TransformFunction"]
    assert transform_fn["Properties"]["PackageType"] == "Image"
    assert transform_fn["Metadata"]["Dockerfile"] == "Dockerfile"
    # the handler modules the template names exist
    for fn in functions.values():
        handler = fn["Properties"].get("Handler")
        if handler:
            module = handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
            assert (TEMPLATE.parent / module).exists(), handler
    # the functions reach the database: VPC config everywhere, secrets named in the environment
    assert "VpcConfig" in template["Globals"]["Function"]
    assert "GANS_DB_SECRET_LOADER" in extract_fn["Environment"]["Variables"]
    assert "GANS_API_KEYS_SECRET" in extract_fn["Environment"]["Variables"]
    assert "GANS_DB_SECRET_DBT" in transform_fn["Properties"]["Environment"]["Variables"]


def test_database_is_mysql_8_private_and_encrypted(template):
    database = template["Resources"]["Database"]
    assert database["Condition"] == "MakeDatabase"
    props = database["Properties"]
    assert props["Engine"] == "mysql"
    assert str(props["EngineVersion"]).startswith("8.")
    assert props["PubliclyAccessible"] is False
    assert props["StorageEncrypted"] is True
    assert props["ManageMasterUserPassword"] is True
    assert "ExistingDbEndpoint" in template["Parameters"]


def test_secrets_generate_passwords(template):
    secrets = _resources(template, "AWS::SecretsManager::Secret")
    generated = [s for s in secrets.values() if "GenerateSecretString" in s["Properties"]]
    assert len(generated) == 3
    for secret in generated:
        assert secret["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "password"
    assert "ApiKeysSecret" in secrets


def _statements(template):
    for name, role in _resources(template, "AWS::IAM::Role").items():
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            yield name, statement
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield name, statement


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_no_iam_statement_grants_a_wildcard_action(template):
    statements = list(_statements(template))
    assert len(statements) > 10
    for role, statement in statements:
        for action in _as_list(statement.get("Action", [])):
            assert isinstance(action, str), (role, action)
            assert action != "*", (role, statement)
            assert not action.endswith(":*"), (role, statement)
            assert "*" not in action, (role, statement)
        assert "NotAction" not in statement, (role, statement)


def test_wildcard_resources_only_for_vpc_network_interfaces(template):
    for role, statement in _statements(template):
        if "*" in _as_list(statement.get("Resource", [])):
            assert all(a.startswith("ec2:") for a in _as_list(statement["Action"])), (role, statement)


def test_functions_use_the_explicit_roles_and_no_managed_policies(template):
    for name, fn in _resources(template, "AWS::Serverless::Function").items():
        assert "Role" in fn["Properties"], name
        assert "Policies" not in fn["Properties"], name
    for name, role in _resources(template, "AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], name


def test_alarms_on_function_errors_and_dead_letter_depth(template):
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    watched = set()
    for alarm in alarms.values():
        props = alarm["Properties"]
        dims = {d["Name"]: d["Value"] for d in props["Dimensions"]}
        if props["MetricName"] == "Errors":
            functions = ("ExtractFunction", "TransformFunction", "RetentionFunction")
            watched.update(n for n in functions if _refers_to(dims["FunctionName"], n))
        if props["MetricName"] == "ApproximateNumberOfMessagesVisible":
            assert _refers_to(dims["QueueName"], "DeadLetterQueue")
            watched.add("DeadLetterQueue")
    assert watched == {"ExtractFunction", "TransformFunction", "RetentionFunction", "DeadLetterQueue"}


# --------------------------------------------------------------------------------------
# Safe start, storage, observability, the image build


def test_schedules_start_disabled_and_follow_one_parameter(template):
    assert template["Parameters"]["SchedulesState"]["Default"] == "DISABLED"
    for name, schedule in _resources(template, "AWS::Scheduler::Schedule").items():
        assert schedule["Properties"]["State"] == {"Ref": "SchedulesState"}, name
    readme = (TEMPLATE.parent / "README.md").read_text()
    assert "SchedulesState=ENABLED" in readme  # the documented enable step


def test_database_storage_autoscales_and_free_storage_is_alarmed(template):
    props = template["Resources"]["Database"]["Properties"]
    assert props["MaxAllocatedStorage"] == {"Ref": "DbMaxAllocatedStorageGiB"}
    assert (
        template["Parameters"]["DbMaxAllocatedStorageGiB"]["Default"]
        > (template["Parameters"]["DbAllocatedStorageGiB"]["Default"])
    )
    [alarm] = [a for a in _resources(template, "AWS::CloudWatch::Alarm").values()
               if a["Properties"]["MetricName"] == "FreeStorageSpace"]  # fmt: skip
    assert _refers_to(alarm["Properties"]["Dimensions"][0]["Value"], "Database")
    assert alarm["Properties"]["ComparisonOperator"] == "LessThanThreshold"


def test_functions_log_json_at_info(template):
    logging_config = template["Globals"]["Function"]["LoggingConfig"]
    assert logging_config["LogFormat"] == "JSON"
    assert logging_config["ApplicationLogLevel"] == "INFO"


def test_a_freshness_alarm_per_source_missing_data_breaching(template):

    filters = [f["Properties"] for f in _resources(template, "AWS::Logs::MetricFilter").values()]
    # the extract function (direct invocations) and the fan-out function (the schedules' state
    # machine, whose collect step logs them) both feed the metric
    for group in ("ExtractLogGroup", "FanoutLogGroup"):
        assert [p for p in filters if _refers_to(p["LogGroupName"], group)], group
    for props in filters:
        # the pattern and fields are the ones gans_lambda.extract_handler.log_freshness logs
        assert props["FilterPattern"] == '{ $.event = "source_freshness" }'
        [transformation] = props["MetricTransformations"]
        assert transformation["MetricValue"] == "$.hours_since_success"
        assert transformation["Dimensions"] == [{"Key": "Source", "Value": "$.source"}]
    alarms = {
        a["Properties"]["Dimensions"][0]["Value"]: a["Properties"]
        for a in _resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "HoursSinceSuccess"
    }
    assert set(alarms) == set(SOURCES)
    # the freshness alarm of each source fires when it missed its declared cadence (plus a margin)
    cadence_hours = {name: _cadence_hours(source.schedule) for name, source in REGISTRY.items()}
    for source, alarm in alarms.items():
        assert alarm["TreatMissingData"] == "breaching", source
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold", source
        assert cadence_hours[source] < alarm["Threshold"] < cadence_hours[source] + 3, source
        # a datapoint per period: the forecasts schedule (every 3 h) logs every source
        assert alarm["Period"] * alarm["EvaluationPeriods"] >= 3 * 3600, source
        assert alarm["Namespace"] == transformation["MetricNamespace"], source


def test_the_image_is_baked_for_the_stacks_database_host(template):
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["GANS_DB_HOST"] == {"Fn::Sub": "mysql.${PrivateZoneName}"}
    assert env["GANS_DB_PORT"] == {"Ref": "DbPort"}
    package = PACKAGE_SH.read_text()
    # package.sh reads the same parameters (samconfig.toml) and writes them for the bake
    assert "f\"mysql.{params['PrivateZoneName']}\"" in package and '"DbPort"' in package
    defaults = template["Parameters"]
    assert f'"PrivateZoneName": "{defaults["PrivateZoneName"]["Default"]}"' in package
    assert f'"DbPort": "{defaults["DbPort"]["Default"]}"' in package
    dockerfile = (TEMPLATE.parent / "Dockerfile").read_text()
    assert "image-settings.env" in dockerfile and "--bake" in dockerfile


def test_the_transform_image_base_gets_fixes_and_has_the_runtime_client():
    dockerfile = (TEMPLATE.parent / "Dockerfile").read_text()
    [base] = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert base.startswith("python:3.11"), base  # Docker's official image: CPython 3.11 security releases
    assert 'ENTRYPOINT ["python", "-m", "awslambdaric"]' in dockerfile
    requirements = (TEMPLATE.parent / "requirements-transform.txt").read_text()
    assert re.search(r"^awslambdaric==\S+$", requirements, re.MULTILINE)
    assert re.search(r"^boto3$", requirements, re.MULTILINE)  # not in a non-AWS base


def test_sample_events_are_the_schedules_inputs(template):
    events = {p.stem: json.loads(p.read_text()) for p in (TEMPLATE.parent / "events").glob("scheduler-*.json")}
    schedules = _extraction_schedules(template)
    assert len(events) == len(schedules)
    for schedule in schedules.values():
        payload = json.loads(schedule["Properties"]["Target"]["Input"]["Fn::Sub"])
        name = payload["schedule"].removeprefix("${AWS::StackName}-")
        sample = events[f"scheduler-{name}"]
        for field in ("sources", "transform", "window"):
            assert sample.get(field) == payload.get(field), (name, field)
        assert sample["schedule"] == f"gans-{name}"


def _role_actions(role: dict) -> dict[str, object]:
    """action -> resource of every statement of a role's inline policies."""
    actions = {}
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in listed:
                actions[action] = statement["Resource"]
    return actions


def test_gbfs_retention_runs_daily_least_privileged_alarmed_and_dead_lettered(template):
    schedule = template["Resources"]["GbfsRetentionSchedule"]["Properties"]
    assert schedule["ScheduleExpression"].startswith("cron(") and schedule["ScheduleExpression"].endswith(" * * ? *)")
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert schedule["State"] == {"Ref": "SchedulesState"}
    target = schedule["Target"]
    assert _refers_to(target["Arn"], "RetentionFunction") and _refers_to(target["RoleArn"], "SchedulerRetentionRole")
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert _refers_to(target["DeadLetterConfig"]["Arn"], "DeadLetterQueue")
    assert "schedule" in json.loads(target["Input"]["Fn::Sub"])

    function = template["Resources"]["RetentionFunction"]["Properties"]
    assert function["Handler"] == "gans_lambda.retention_handler.handler"
    assert function["Environment"]["Variables"]["GANS_GBFS_RETENTION_DAYS"] == {"Ref": "GbfsRetentionDays"}
    from extract.settings import Settings

    default = Settings.model_fields["gbfs_retention_days"].default
    assert template["Parameters"]["GbfsRetentionDays"]["Default"] == default
    on_failure = function["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS" and _refers_to(on_failure["Destination"], "DeadLetterQueue")

    # the scheduler may invoke only this function; the function reads only the loader's secret
    scheduler = _role_actions(template["Resources"]["SchedulerRetentionRole"])
    assert scheduler.keys() == {"lambda:InvokeFunction", "sqs:SendMessage"}
    assert all(_refers_to(r, "RetentionFunction") for r in scheduler["lambda:InvokeFunction"])
    role = _role_actions(template["Resources"]["RetentionFunctionRole"])
    assert role["secretsmanager:GetSecretValue"] == {"Ref": "LoaderDbSecret"}
    assert _refers_to(role["logs:PutLogEvents"], "RetentionLogGroup")
    assert _refers_to(role["sqs:SendMessage"], "DeadLetterQueue")
    assert not any(a.startswith(("lambda:", "states:")) for a in role)
