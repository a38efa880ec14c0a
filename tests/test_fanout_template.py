"""The fan-out state machine of lambda/template.yaml: Plan, a distributed Map of batches, Collect, rounds, Transform.

Read with cfn-lint's decoder (as in test_lambda_template); cfn-lint itself validates the
definition against the Amazon States Language schema (rule E3601, run by
``test_lambda_template.test_cfn_lint_is_clean``). The handler the steps call is checked to
dispatch every step the definition sends.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cfnlint.decode import decode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambda"))

from gans_lambda import fanout_handler  # noqa: E402

TEMPLATE = Path(__file__).resolve().parent.parent / "lambda" / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict:
    decoded, errors = decode(str(TEMPLATE))
    assert not errors, errors
    return decoded


@pytest.fixture(scope="module")
def machine(template) -> dict:
    return template["Resources"]["ExtractStateMachine"]


def _walk(states: dict):
    for name, state in states.items():
        yield name, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from _walk(processor["States"])


def test_state_machine_is_standard_with_its_own_role(machine, template):
    props = machine["Properties"]
    assert machine["Type"] == "AWS::StepFunctions::StateMachine"
    assert props["StateMachineType"] == "STANDARD"
    assert props["RoleArn"] == {"Fn::GetAtt": ["StateMachineRole", "Arn"]}
    assert props["Definition"]["StartAt"] == "Plan"


def test_plan_map_collect_rounds_transform(machine):
    states = machine["Properties"]["Definition"]["States"]
    assert states["Plan"]["Next"] == "Batches"
    assert states["Plan"]["Parameters"]["Payload"]["step"] == "plan"
    batches = states["Batches"]
    assert batches["Type"] == "Map"
    assert batches["ItemsPath"] == "$.items"
    assert batches["Next"] == "Collect" and batches["Catch"][0]["Next"] == "Collect"
    assert batches["ResultPath"] is None  # batch results stay out of the state (256 KB limit)
    # the round loop goes back to the Map only while keys are left and rounds remain
    loop = states["AnotherRound"]["Choices"][0]
    assert loop["Next"] == "Batches"
    assert {c["Variable"] for c in loop["And"]} == {"$.items[0]", "$.round"}
    assert states["AnotherRound"]["Default"] == "AnythingLanded"
    landed = states["AnythingLanded"]["Choices"][0]
    assert landed == {"Variable": "$.landed_total", "NumericGreaterThan": 0, "Next": "Transform"}
    transform = states["Transform"]
    assert transform["Parameters"]["FunctionName"] == "${TransformFunctionArn}"
    subs = machine["Properties"]["DefinitionSubstitutions"]
    assert subs["TransformFunctionArn"] == {"Fn::GetAtt": ["TransformFunction", "Arn"]}
    assert subs["FanoutFunctionArn"] == {"Fn::GetAtt": ["FanoutFunction", "Arn"]}
    # exactly one Transform state, and it is outside the Map: dbt runs once per execution
    calls = [n for n, s in _walk(states) if s.get("Parameters", {}).get("FunctionName") == "${TransformFunctionArn}"]
    assert calls == ["Transform"]


def test_map_is_distributed_bounded_by_the_rate_share_concurrency_and_tolerates_failures(machine, template):
    batches = machine["Properties"]["Definition"]["States"]["Batches"]
    config = batches["ItemProcessor"]["ProcessorConfig"]
    assert config == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    # the Map's concurrency is the number the plan divided the rate by: one value, carried in the state
    assert batches["MaxConcurrencyPath"] == "$.concurrency"
    assert batches["ItemSelector"]["concurrency.$"] == "$.concurrency"
    assert batches["ToleratedFailurePercentagePath"] == "$.tolerated_failure_percentage"
    env = template["Resources"]["FanoutFunction"]["Properties"]["Environment"]["Variables"]
    assert env["GANS_FANOUT_CONCURRENCY"] == {"Ref": "ExtractConcurrency"}
    assert env["GANS_FANOUT_TOLERATED_FAILURE_PCT"] == {"Ref": "BatchToleratedFailurePercentage"}
    assert env["GANS_FANOUT_MAX_ROUNDS"] == {"Ref": "MaxRequeueRounds"}
    param = template["Parameters"]["ExtractConcurrency"]
    assert param["Type"] == "Number" and param["MinValue"] >= 1 and param["MaxValue"] <= 40


def test_batch_step_retries_with_backoff_inside_the_lambda_limit(machine, template):
    batch = machine["Properties"]["Definition"]["States"]["Batches"]["ItemProcessor"]["States"]["Batch"]
    assert batch["Parameters"]["FunctionName"] == "${FanoutFunctionArn}"
    assert batch["Parameters"]["Payload.$"] == "$"
    assert batch["Retry"], batch
    for retry in batch["Retry"]:
        assert retry["BackoffRate"] > 1 and 1 <= retry["MaxAttempts"] <= 6, retry
    assert any("States.ALL" in r["ErrorEquals"] or "States.TaskFailed" in r["ErrorEquals"] for r in batch["Retry"])
    timeout = template["Resources"]["FanoutFunction"]["Properties"]["Timeout"]
    assert timeout <= 900 and batch["TimeoutSeconds"] >= timeout
    # the planned API time per batch plus the time guard's margin fit in the function's timeout
    env = template["Resources"]["FanoutFunction"]["Properties"]["Environment"]["Variables"]
    assert float(env["GANS_FANOUT_MAX_BATCH_S"]) + float(env["GANS_FANOUT_MARGIN_S"]) < timeout


def test_every_step_the_definition_sends_is_one_the_handler_knows(machine):
    steps = set()
    for _, state in _walk(machine["Properties"]["Definition"]["States"]):
        params = state.get("Parameters", {})
        if params.get("FunctionName") == "${FanoutFunctionArn}":
            payload = params.get("Payload")
            steps.add(payload["step"] if isinstance(payload, dict) else "item")
    selector = machine["Properties"]["Definition"]["States"]["Batches"]["ItemSelector"]
    steps = (steps - {"item"}) | {selector["step"]}
    assert steps == {"plan", "batch", "collect"}
    for step in steps:  # a bad payload for each step is refused by name, not by an unknown-step error
        with pytest.raises(fanout_handler.BadExtractEvent) as exc:
            fanout_handler.handler({"step": step})
        assert "step must be" not in str(exc.value)
    with pytest.raises(fanout_handler.BadExtractEvent, match="step must be"):
        fanout_handler.handler({"step": "nope"})


def _policy_statements(role: dict):
    for policy in role["Properties"]["Policies"]:
        yield from policy["PolicyDocument"]["Statement"]


def test_schedules_may_only_start_the_state_machine(template):
    role = template["Resources"]["SchedulerFanoutRole"]
    actions = {}
    for statement in _policy_statements(role):
        for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
            actions[action] = statement["Resource"]
    assert actions.keys() == {"states:StartExecution", "sqs:SendMessage"}
    assert actions["states:StartExecution"] == {"Ref": "ExtractStateMachine"}
    assert actions["sqs:SendMessage"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


def test_state_machine_role_invokes_only_its_steps_and_starts_only_its_children(template):
    role = template["Resources"]["StateMachineRole"]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "states.amazonaws.com"
    }
    for statement in _policy_statements(role):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert all("*" not in a for a in actions), statement
        assert "*" not in resources, statement
        if actions == ["lambda:InvokeFunction"]:
            names = {str(r) for r in resources}
            assert all("FanoutFunction" in n or "TransformFunction" in n for n in names), names
        else:
            assert set(actions) <= {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"}
            for resource in resources:
                assert "${AWS::StackName}-extract" in resource["Fn::Sub"], resource
    name = template["Resources"]["ExtractStateMachine"]["Properties"]["StateMachineName"]
    assert name == {"Fn::Sub": "${AWS::StackName}-extract"}


def test_failed_executions_raise_an_alarm(template):
    alarm = template["Resources"]["ExtractStateMachineFailedAlarm"]["Properties"]
    assert alarm["Namespace"] == "AWS/States" and alarm["MetricName"] == "ExecutionsFailed"
    assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "ExtractStateMachine"}}]
